// libpcap wrapped once: a streaming reader of Ethernet captures with nanosecond timestamps, and a writer
// of nanosecond pcaps that replaces its file only when it is complete.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

struct pcap;
struct pcap_dumper;

namespace stasis::replay {

// A capture or an output file could not be used; the message names the file (and the packet, the
// offset of its record and what was wrong).
class replay_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One record of a capture. `data` is valid until the next call to next().
struct pcap_record {
    uint64_t number = 0;     // 1-based, in file order
    uint64_t offset = 0;     // byte offset of the record in the file
    int64_t ts_ns = 0;
    uint32_t caplen = 0;     // bytes captured (and written back)
    uint32_t len = 0;        // length on the wire: what the link model serializes
    const uint8_t *data = nullptr;
};

// Reads pcap or pcapng (libpcap decides) with nanosecond timestamps; only Ethernet (DLT_EN10MB).
class pcap_reader {
public:
    explicit pcap_reader(const std::string &path);  // throws replay_error
    ~pcap_reader();
    pcap_reader(const pcap_reader &) = delete;
    pcap_reader &operator=(const pcap_reader &) = delete;

    // The next record, false at the end of the file; throws replay_error on a damaged record.
    bool next(pcap_record &out);
    int snaplen() const noexcept { return _snaplen; }
    const std::string &path() const noexcept { return _path; }

private:
    std::string _path;
    pcap *_p = nullptr;
    int _snaplen = 0;
    uint64_t _count = 0;
};

// Writes a nanosecond pcap (magic a1b23c4d) to a temporary file next to `path`; commit() flushes it
// and renames it to `path`. Destroyed without commit(), it removes the temporary file.
class pcap_writer {
public:
    pcap_writer(const std::string &path, int linktype, int snaplen);  // throws replay_error
    ~pcap_writer();
    pcap_writer(const pcap_writer &) = delete;
    pcap_writer &operator=(const pcap_writer &) = delete;

    void write(int64_t ts_ns, uint32_t len, std::span<const uint8_t> bytes);  // throws replay_error
    void commit();
    uint64_t packets() const noexcept { return _count; }

private:
    void close() noexcept;

    std::string _path, _tmp;
    pcap *_dead = nullptr;
    pcap_dumper *_dump = nullptr;
    uint64_t _count = 0;
};

}  // namespace stasis::replay
