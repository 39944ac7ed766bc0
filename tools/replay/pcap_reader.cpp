// Streaming reader of a capture: one record at a time, nanosecond timestamps, Ethernet only.
#include <pcap/pcap.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "stasis/replay/pcap.hpp"

namespace stasis::replay {

namespace {

std::string link_name(int dlt)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    std::string out = "DLT " + std::to_string(dlt);
    if (name)
        out += std::string(" (") + name + (desc ? std::string(", ") + desc : "") + ")";
    return out;
}

}  // namespace

pcap_reader::pcap_reader(const std::string &path) : _path(path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw replay_error(path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        throw replay_error(path + ": is a directory, not a capture");
    if (S_ISREG(st.st_mode) && st.st_size == 0)
        throw replay_error(path + ": empty file (0 bytes), not a pcap");

    char errbuf[PCAP_ERRBUF_SIZE] = "";
    _p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (_p == nullptr) {
        const std::string why = errbuf;
        if (why.find("unknown file format") != std::string::npos)
            throw replay_error(path + ": not a pcap or pcapng capture (libpcap: " + why + ")");
        throw replay_error(path + ": cannot read as a capture: " + why);
    }
    const int dlt = pcap_datalink(_p);
    if (dlt != DLT_EN10MB) {
        pcap_close(_p);
        _p = nullptr;
        throw replay_error(path + ": link type " + link_name(dlt) +
                           " is not supported; replay needs Ethernet, DLT_EN10MB (1)");
    }
    _snaplen = pcap_snapshot(_p);
}

pcap_reader::~pcap_reader()
{
    if (_p)
        pcap_close(_p);
}

bool pcap_reader::next(pcap_record &out)
{
    FILE *f = pcap_file(_p);
    const long offset = f ? std::ftell(f) : -1;
    struct pcap_pkthdr *hdr = nullptr;
    const u_char *data = nullptr;
    const int rc = pcap_next_ex(_p, &hdr, &data);
    if (rc == PCAP_ERROR_BREAK)  // end of the file
        return false;
    const uint64_t number = _count + 1;
    const std::string where = _path + ": packet " + std::to_string(number) +
                              (offset >= 0 ? " (offset " + std::to_string(offset) + ")" : "");
    if (rc != 1)
        throw replay_error(where + ": " + pcap_geterr(_p));
    if (hdr->caplen > hdr->len)
        throw replay_error(where + ": captured length " + std::to_string(hdr->caplen) +
                           " exceeds the wire length " + std::to_string(hdr->len));
    if (hdr->len == 0)
        throw replay_error(where + ": wire length 0");
    if (hdr->ts.tv_sec < 0 || hdr->ts.tv_usec < 0 || hdr->ts.tv_usec >= 1'000'000'000)
        throw replay_error(where + ": invalid timestamp");
    _count = number;
    out.number = number;
    out.offset = offset >= 0 ? uint64_t(offset) : 0;
    out.ts_ns = int64_t(hdr->ts.tv_sec) * 1'000'000'000 + int64_t(hdr->ts.tv_usec);
    out.caplen = hdr->caplen;
    out.len = hdr->len;
    out.data = data;
    return true;
}

}  // namespace stasis::replay
