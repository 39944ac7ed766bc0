// Writer of the replay's output: a nanosecond pcap, complete or absent (temporary file + rename).
#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "stasis/replay/pcap.hpp"

namespace stasis::replay {

namespace {
constexpr int64_t ns_per_s = 1'000'000'000;
constexpr int64_t pcap_max_s = 0xffff'ffffLL;  // the record header's seconds are 32 bits unsigned
}  // namespace

pcap_writer::pcap_writer(const std::string &path, int linktype, int snaplen)
    : _path(path), _tmp(path + ".tmp-" + std::to_string(::getpid()))
{
    _dead = pcap_open_dead_with_tstamp_precision(linktype, snaplen, PCAP_TSTAMP_PRECISION_NANO);
    if (_dead == nullptr)
        throw replay_error(path + ": cannot create a pcap writer");
    _dump = pcap_dump_open(_dead, _tmp.c_str());
    if (_dump == nullptr) {
        const std::string why = pcap_geterr(_dead);
        pcap_close(_dead);
        _dead = nullptr;
        throw replay_error(path + ": cannot write: " + why);
    }
}

pcap_writer::~pcap_writer()
{
    if (_dump) {
        close();
        std::remove(_tmp.c_str());
    }
}

void pcap_writer::close() noexcept
{
    if (_dump)
        pcap_dump_close(_dump);
    if (_dead)
        pcap_close(_dead);
    _dump = nullptr;
    _dead = nullptr;
}

void pcap_writer::write(int64_t ts_ns, uint32_t len, std::span<const uint8_t> bytes)
{
    if (ts_ns < 0 || ts_ns / ns_per_s > pcap_max_s)
        throw replay_error(_path + ": packet " + std::to_string(_count + 1) + ": departure at " +
                           std::to_string(ts_ns) + " ns is outside the pcap time range (1970..2106)");
    struct pcap_pkthdr hdr {};
    hdr.ts.tv_sec = ts_ns / ns_per_s;
    hdr.ts.tv_usec = ts_ns % ns_per_s;  // nanoseconds: the dumper was opened with nano precision
    hdr.caplen = uint32_t(bytes.size());
    hdr.len = len;
    pcap_dump(reinterpret_cast<u_char *>(_dump), &hdr, bytes.data());
    _count++;
}

void pcap_writer::commit()
{
    FILE *f = pcap_dump_file(_dump);
    const bool ok = pcap_dump_flush(_dump) == 0 && !std::ferror(f) && ::fsync(fileno(f)) == 0;
    const int err = errno;
    close();
    if (!ok) {
        std::remove(_tmp.c_str());
        throw replay_error(_path + ": write failed: " + std::strerror(err));
    }
    if (std::rename(_tmp.c_str(), _path.c_str()) != 0) {
        const int rerr = errno;
        std::remove(_tmp.c_str());
        throw replay_error(_path + ": cannot rename " + _tmp + " to it: " + std::strerror(rerr));
    }
}

}  // namespace stasis::replay
