// `stasis replay`: a capture through one link model in virtual time. Every packet of the input is an
// arrival at its timestamp with its wire length; the output holds the admitted packets at their
// departure instants, in departure order. Streams: memory holds only the packets in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "stasis/dataplane/pipe_model.hpp"
#include "stasis/replay/pcap.hpp"

namespace stasis::replay {

struct replay_options {
    std::string in_path, out_path;
    dataplane::pipe_params params;
    // Freeze this long after the first packet's timestamp, hold for pause_ns, resume (see freeze.hpp).
    std::optional<int64_t> checkpoint_after_ns;
    int64_t pause_ns = 0;
};

// A packet of the input and the model's verdict on it.
struct arrival_event {
    uint64_t number;                // 1-based packet number in the input
    int64_t arrival_ns;             // its timestamp in the input
    uint32_t len, caplen;
    dataplane::drop_reason drop;
    dataplane::occupancy queue;     // the queue the packet found (before it was admitted)
};

// An admitted packet leaving, in departure order (which is arrival order: the link never reorders).
struct departure_event {
    uint64_t number;
    int64_t arrival_ns;  // input timestamp
    uint32_t len;
    int64_t depart_ns;   // in experiment time: a checkpoint's pause taken out (written_ns - pause)
    int64_t written_ns;  // the timestamp written to the output
};

struct checkpoint_info {
    int64_t freeze_ns = 0;     // absolute: first packet's timestamp + checkpoint_after_ns
    int64_t pause_ns = 0;
    uint64_t held_packets = 0, held_bytes = 0;  // in flight at the freeze, carried across it
    uint64_t image_bytes = 0;  // size of the serialized model state and held packets
};

// The fidelity report listens to the run through this interface.
class replay_observer {
public:
    virtual ~replay_observer() = default;
    virtual void on_arrival(const arrival_event &e) = 0;
    virtual void on_departure(const departure_event &e) = 0;
    virtual void on_checkpoint(const checkpoint_info &) {}
};

struct replay_summary {
    uint64_t packets_in = 0, bytes_in = 0;
    uint64_t packets_out = 0, bytes_out = 0;
    int64_t first_arrival_ns = 0, last_arrival_ns = 0;
    size_t max_in_flight = 0;  // most packets held at once (the streaming bound)
    std::optional<checkpoint_info> checkpoint;
};

// Runs the replay; throws replay_error naming the file and packet on a bad capture, and leaves no
// output file then.
replay_summary run_replay(const replay_options &options, replay_observer *observer = nullptr);

}  // namespace stasis::replay
