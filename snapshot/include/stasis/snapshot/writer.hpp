// Writing a snapshot as a stream, from the daemon's control thread while it walks its frozen FIFOs.
//
//   auto w = snapshot_writer::create(path, hdr);            // opens DIR/.NAME.tmp-PID-N
//   for each link:  w->begin_link(link_info::of(link));
//     for a_to_b then b_to_a:  w->add_pipe(record);         // params, state relative to F, counters
//       for each packet not yet departed:  w->add_packet(arrival - F, depart - F, frame);
//   w->commit();                                    // fsync, rename to NAME, fsync the directory
//
// Nothing here changes the caller's data. The first error ends the snapshot: the temporary file is
// removed at once, that call and every later one return the error, and NAME is not touched (a
// snapshot already there stays). A writer destroyed without commit() removes its temporary file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "stasis/snapshot/contents.hpp"
#include "stasis/snapshot/error.hpp"

namespace stasis::snapshot {

class snapshot_writer {
public:
    static result<snapshot_writer> create(const std::string &path, const header &hdr);

    snapshot_writer(snapshot_writer &&) noexcept;
    snapshot_writer &operator=(snapshot_writer &&) noexcept;
    ~snapshot_writer();

    result<void> begin_link(const link_info &link);
    // The link's pipes, a_to_b first. Fails (errc::invalid) if the parameters would not read back
    // exactly, e.g. when they break the configuration's rules.
    result<void> add_pipe(const pipe_record &pipe);
    // A packet of the current pipe, in FIFO order. Copies the frame (1..format::max_frame_bytes).
    result<void> add_packet(int64_t arrival_rel_ns, int64_t depart_rel_ns,
                            std::span<const std::byte> frame);
    // The same for a frame in pieces (a chained mbuf): the pieces are concatenated.
    result<void> add_packet(int64_t arrival_rel_ns, int64_t depart_rel_ns,
                            std::span<const std::span<const std::byte>> segments);
    // Writes the trailer, makes the file durable and gives it its name.
    result<void> commit();

    const std::string &path() const noexcept;
    uint64_t bytes_written() const noexcept;  // so far; after commit(), the file's size
    // After commit(): the CRC32C of everything before the trailer, as the trailer records it.
    uint32_t content_crc() const noexcept;

private:
    struct impl;
    explicit snapshot_writer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> _p;
};

// Writes a whole in-memory snapshot (tools and tests; the daemon streams with snapshot_writer).
result<void> save_all(const std::string &path, const snapshot_data &data);

}  // namespace stasis::snapshot
