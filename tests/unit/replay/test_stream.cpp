// Streaming: a capture of about 200 MB replays in a few MB of memory (peak RSS of a child process).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "pcap_files.hpp"

namespace stasis::replay::test {
namespace {

TEST(Stream, LargeCaptureInBoundedMemory)
{
    temp_dir dir;
    const std::string in = dir / "big.pcap", out = dir / "big-out.pcap";
    const size_t n = 140'000;  // 1514-byte frames: 214 MB of records
    {
        std::ofstream f(in, std::ios::binary);
        write_header(f);
        for (size_t i = 0; i < n; i++)
            write_record(f, {epoch + int64_t(i) * 13 * us, 1514, 1514, uint8_t(i)});
    }
    const auto in_size = std::filesystem::file_size(in);
    ASSERT_GT(in_size, 200'000'000u);

    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // the child replays and exits; only its own peak memory counts
        int status = 1;
        try {
            replay_options o;
            o.in_path = in;
            o.out_path = out;
            o.params.rate_bps = 1'000'000'000;
            o.params.delay_ns = 10 * ms;
            o.params.queue_slots = 1000;
            const replay_summary s = run_replay(o);
            status = s.packets_out == n && s.max_in_flight < 1000 ? 0 : 2;
        } catch (...) {
            status = 3;
        }
        ::_exit(status);
    }
    int status = 0;
    struct rusage ru {};
    ASSERT_EQ(::wait4(pid, &status, 0, &ru), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "2: wrong output count or in-flight bound, 3: the replay threw";
    const long peak_kb = ru.ru_maxrss;
    std::printf("input %.1f MB, replay peak RSS %.1f MB\n", double(in_size) / 1e6, double(peak_kb) / 1024);
    EXPECT_LT(peak_kb, 48 * 1024) << "peak RSS " << peak_kb << " kB for a " << in_size << "-byte capture";
    EXPECT_EQ(std::filesystem::file_size(out), in_size);  // every packet out, whole
}

}  // namespace
}  // namespace stasis::replay::test
