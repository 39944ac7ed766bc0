// Reading a snapshot: open() checks the whole file (magic, version, framing, every checksum, the
// structure, the trailer) and keeps a summary; for_each_packet() streams the packets in a second
// pass, checking them again; load_all() builds everything in memory, for small files.
//
// Errors name the file and, for the contents, the record and its byte offset:
//   "snap.stasis: record 12 (packets) at offset 40960: checksum mismatch (corrupted)"
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stasis/snapshot/contents.hpp"
#include "stasis/snapshot/error.hpp"

namespace stasis::snapshot {

// One pipe as open() saw it: its record, and what its packets add up to.
struct pipe_summary {
    pipe_record pipe;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    // Meaningful when packets > 0.
    int64_t oldest_depart_rel_ns = 0, newest_depart_rel_ns = 0;
    int64_t oldest_arrival_rel_ns = 0, newest_arrival_rel_ns = 0;
};

struct link_summary {
    link_info link;
    std::array<pipe_summary, 2> pipes;  // [a_to_b, b_to_a]
};

struct file_summary {
    uint32_t format_version = 0;
    uint64_t file_bytes = 0;
    uint64_t records = 0;  // with the trailer
    uint64_t packets = 0;
    uint64_t bytes = 0;    // frame bytes
};

class snapshot_reader {
public:
    static result<snapshot_reader> open(const std::string &path);

    snapshot_reader(snapshot_reader &&) noexcept;
    snapshot_reader &operator=(snapshot_reader &&) noexcept;
    ~snapshot_reader();

    const std::string &path() const noexcept;
    const snapshot::header &header() const noexcept;
    const std::vector<link_summary> &links() const noexcept;
    const file_summary &file() const noexcept;

    // Calls fn for every packet, link by link, a_to_b then b_to_a, in FIFO order. fn returns false
    // to stop (the result is then errc::stopped). Reads the file the reader opened.
    result<void> for_each_packet(const std::function<bool(const packet_ref &)> &fn) const;

    // Everything in memory.
    result<snapshot_data> load_all() const;

private:
    struct impl;
    explicit snapshot_reader(std::unique_ptr<impl> p);
    std::unique_ptr<impl> _p;
};

}  // namespace stasis::snapshot
