// Helpers of the replay tests: pcap files written and read with plain byte I/O (not libpcap), a temporary
// directory, and traces.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "stasis/replay/replay.hpp"

namespace stasis::replay::test {

inline constexpr int64_t ms = 1'000'000;
inline constexpr int64_t us = 1'000;
inline constexpr int64_t epoch = 1'700'000'000LL * 1'000'000'000;  // a plausible capture start

struct packet {
    int64_t ts_ns;
    uint32_t len;     // wire length
    uint32_t caplen;  // bytes in the file
    uint8_t tag = 0;  // first byte of the captured bytes (identifies the packet in the output)

    bool operator==(const packet &) const = default;
};

inline void put32(std::ofstream &f, uint32_t v) { f.write(reinterpret_cast<const char *>(&v), 4); }
inline void put16(std::ofstream &f, uint16_t v) { f.write(reinterpret_cast<const char *>(&v), 2); }

inline void write_header(std::ofstream &f, uint32_t linktype = 1, bool nano = true, uint32_t snaplen = 65535)
{
    put32(f, nano ? 0xa1b23c4d : 0xa1b2c3d4);
    put16(f, 2);
    put16(f, 4);
    put32(f, 0);
    put32(f, 0);
    put32(f, snaplen);
    put32(f, linktype);
}

inline void write_record(std::ofstream &f, const packet &p, bool nano = true)
{
    put32(f, uint32_t(p.ts_ns / 1'000'000'000));
    put32(f, uint32_t(p.ts_ns % 1'000'000'000 / (nano ? 1 : 1000)));
    put32(f, p.caplen);
    put32(f, p.len);
    std::vector<char> bytes(p.caplen, char(0x5a));
    if (p.caplen)
        bytes[0] = char(p.tag);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline void write_pcap(const std::string &path, const std::vector<packet> &pkts, uint32_t linktype = 1,
                       bool nano = true)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    write_header(f, linktype, nano);
    for (const packet &p : pkts)
        write_record(f, p, nano);
}

// Reads a nanosecond little-endian pcap as written by the replay.
inline std::vector<packet> read_pcap(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::vector<packet> out;
    uint32_t hdr[6];
    f.read(reinterpret_cast<char *>(hdr), 24);
    EXPECT_EQ(hdr[0], 0xa1b23c4du) << path << ": not a nanosecond pcap";
    EXPECT_EQ(hdr[5], 1u) << path << ": link type";
    uint32_t rec[4];
    while (f.read(reinterpret_cast<char *>(rec), 16)) {
        packet p{int64_t(rec[0]) * 1'000'000'000 + rec[1], rec[3], rec[2]};
        std::vector<char> bytes(rec[2]);
        f.read(bytes.data(), rec[2]);
        p.tag = rec[2] ? uint8_t(bytes[0]) : 0;
        out.push_back(p);
    }
    return out;
}

// A fresh directory per test, removed afterwards.
class temp_dir {
public:
    temp_dir()
    {
        char tmpl[] = "/tmp/unit-replay-XXXXXX";
        _path = ::mkdtemp(tmpl);
    }
    ~temp_dir() { std::filesystem::remove_all(_path); }
    std::string operator/(const std::string &name) const { return _path + "/" + name; }
    const std::string &path() const { return _path; }

private:
    std::string _path;
};

// Bursty traffic from an RNG of its own: exponential gaps, bursts at one instant, idle periods, lengths
// 60..1514 with some jumbo frames; caplen at most 96 (a snapped capture), tags cycling.
inline std::vector<packet> random_trace(uint64_t seed, size_t n, int64_t mean_gap_ns)
{
    std::mt19937_64 g(seed);
    std::exponential_distribution<double> gap(1.0 / double(mean_gap_ns));
    std::uniform_int_distribution<uint32_t> len(60, 1514);
    std::uniform_int_distribution<int> event(0, 99);
    std::vector<packet> v;
    int64_t t = epoch;
    for (size_t i = 0; i < n; i++) {
        const int e = event(g);
        if (e == 0)
            t += 300 * mean_gap_ns;
        else if (e > 5)
            t += int64_t(gap(g));
        const uint32_t l = e == 1 ? 9014 : len(g);
        v.push_back({t, l, std::min<uint32_t>(l, 96), uint8_t(i)});
    }
    return v;
}

}  // namespace stasis::replay::test
