// Helpers of the snapshot tests: a sample multi-link state, temporary directories, file bytes, and a
// small independent parser of the record framing (to damage chosen records).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "stasis/snapshot/contents.hpp"
#include "stasis/snapshot/format.hpp"
#include "stasis/snapshot/reader.hpp"

namespace stasis::snapshot::test {

inline constexpr int64_t freeze_ns = 1'700'000'000'123'456'789;  // F

// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
public:
    temp_dir()
    {
        std::string tmpl = "/tmp/stasis-snap-XXXXXX";
        if (!mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        _path = tmpl;
    }
    ~temp_dir() { std::filesystem::remove_all(_path); }
    temp_dir(const temp_dir &) = delete;
    temp_dir &operator=(const temp_dir &) = delete;

    const std::string &path() const { return _path; }
    std::string file(const std::string &name) const { return _path + "/" + name; }
    // Names of the entries (hidden ones too), sorted.
    std::vector<std::string> entries() const
    {
        std::vector<std::string> out;
        for (const auto &e : std::filesystem::directory_iterator(_path))
            out.push_back(e.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }

private:
    std::string _path;
};

inline std::vector<char> read_bytes(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const std::string &path, const std::vector<char> &bytes)
{
    // A new file each time: ext4 flushes a file truncated and rewritten (auto_da_alloc), slowly.
    std::filesystem::remove(path);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A record as the file lays it out.
struct record_at {
    uint32_t type;
    uint64_t offset;  // of its head
    uint64_t length;  // of its payload
    uint64_t payload_offset() const { return offset + sizeof(format::record_head); }
    uint64_t end() const { return payload_offset() + length + 4; }
};

inline std::vector<record_at> records_of(const std::vector<char> &bytes)
{
    std::vector<record_at> out;
    uint64_t at = format::preamble_bytes;
    while (at + sizeof(format::record_head) <= bytes.size()) {
        format::record_head h;
        std::memcpy(&h, bytes.data() + at, sizeof h);
        out.push_back({h.type, at, h.length});
        at = out.back().end();
    }
    return out;
}

// Random bytes of a frame.
inline std::vector<std::byte> frame_bytes(std::mt19937_64 &rng, size_t len)
{
    std::vector<std::byte> f(len);
    for (auto &b : f)
        b = std::byte(rng());
    return f;
}

// open() then load_all().
inline result<snapshot_data> load(const std::string &path)
{
    auto r = snapshot_reader::open(path);
    if (!r)
        return std::unexpected(r.error());
    return r->load_all();
}

snapshot_data sample(unsigned packets_per_pipe = 40, uint64_t seed = 7);

}  // namespace stasis::snapshot::test
