// What a snapshot holds, as plain structs: the header, the links, their pipes, the packets in flight.
// Every instant named *_rel_ns, and every instant of a pipe_state stored here, is relative to the
// freeze instant F: t - F. shifted() converts (state saved at absolute times: shifted(s, -F); restored
// at R: shifted(s, R)).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stasis/dataplane/config.hpp"
#include "stasis/dataplane/pipe_model.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::snapshot {

struct header {
    int64_t created_realtime_ns = 0;  // 0 when saving: now
    int64_t freeze_realtime_ns = 0;   // F, absolute CLOCK_REALTIME
    std::string agent = "stasis-delayd";
    std::string host;                 // empty when saving: gethostname()
    std::string software_version;     // empty when saving: this build's
    // As applied. Stored as dump_config() text; on reading, the pipes of each link that has a link
    // record are that record's exact parameters (the text drops unused Gilbert-Elliott values).
    dataplane::daemon_config config;

    bool operator==(const header &) const = default;
};

enum class direction : uint8_t { a_to_b, b_to_a };
const char *direction_name(direction d) noexcept;  // "a_to_b"

struct link_info {
    std::string name;
    dataplane::endpoint a, b;

    static link_info of(const dataplane::link_config &link) { return {link.name, link.a, link.b}; }
    bool operator==(const link_info &) const = default;
};

struct pipe_counters {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
    uint64_t drop_loss = 0, drop_queue = 0, drop_red = 0, drop_fifo = 0, drop_tx = 0;

    bool operator==(const pipe_counters &) const = default;
};

struct pipe_record {
    direction dir = direction::a_to_b;
    dataplane::pipe_params params;
    dataplane::pipe_state state;  // instants relative to F
    pipe_counters counters;

    bool operator==(const pipe_record &) const = default;
};

// A packet as the reader hands it out: `frame` points into the reader's buffer and is valid during
// the callback only.
struct packet_ref {
    uint32_t link = 0;  // index in file order (snapshot_reader::links())
    direction dir = direction::a_to_b;
    int64_t arrival_rel_ns = 0;
    int64_t depart_rel_ns = 0;
    std::span<const std::byte> frame;
};

// An owned packet, for load_all() and save_all() (small snapshots, tests, tools).
struct packet {
    int64_t arrival_rel_ns = 0;
    int64_t depart_rel_ns = 0;
    std::vector<std::byte> frame;

    bool operator==(const packet &) const = default;
};

struct pipe_data {
    pipe_record pipe;
    std::vector<packet> packets;  // in departure order (the FIFO's)

    bool operator==(const pipe_data &) const = default;
};

struct link_data {
    link_info link;
    std::array<pipe_data, 2> pipes;  // [a_to_b, b_to_a]

    bool operator==(const link_data &) const = default;
};

struct snapshot_data {
    snapshot::header header;
    std::vector<link_data> links;

    bool operator==(const snapshot_data &) const = default;
};

// Every instant of the state plus delta_ns (pipe_model::shift on a saved state).
dataplane::pipe_state shifted(dataplane::pipe_state s, int64_t delta_ns);

}  // namespace stasis::snapshot
