// Runs a replay on packets in a temporary directory and reads the output back.
#pragma once

#include <memory>
#include <optional>

#include "pcap_files.hpp"
#include "stasis/replay/fidelity.hpp"

namespace stasis::replay::test {

struct run_result {
    replay_summary summary;
    std::unique_ptr<fidelity_report> report;
    std::vector<packet> out;
};

inline run_result replay_packets(const std::vector<packet> &in, const dataplane::pipe_params &params,
                                 std::optional<int64_t> checkpoint_after_ns = std::nullopt,
                                 int64_t pause_ns = 0)
{
    temp_dir dir;
    replay_options o;
    o.in_path = dir / "in.pcap";
    o.out_path = dir / "out.pcap";
    o.params = params;
    o.checkpoint_after_ns = checkpoint_after_ns;
    o.pause_ns = pause_ns;
    write_pcap(o.in_path, in);
    run_result r;
    r.report = std::make_unique<fidelity_report>(params);
    r.summary = run_replay(o, r.report.get());
    r.out = read_pcap(o.out_path);
    return r;
}

inline dataplane::pipe_params link(uint64_t rate_bps, int64_t delay_ns = 0, uint32_t slots = 50,
                                   uint64_t queue_bytes = 0)
{
    dataplane::pipe_params p;
    p.rate_bps = rate_bps;
    p.delay_ns = delay_ns;
    p.queue_slots = slots;
    p.queue_bytes = queue_bytes;
    return p;
}

}  // namespace stasis::replay::test
