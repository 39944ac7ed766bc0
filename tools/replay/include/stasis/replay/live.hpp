// `stasis replay --live`: a capture sent out of one interface at its recorded pace, through a running
// stasis-delayd, and captured on another, with the fidelity report of the received frames against the
// link model computed from the actual send instants (docs/FIDELITY.md, "Live replay").
#pragma once

#include <cstdint>
#include <string>

#include "stasis/replay/fidelity.hpp"
#include "stasis/replay/histogram.hpp"
#include "stasis/replay/replay.hpp"

namespace stasis::replay {

struct live_options {
    std::string tx_iface, rx_iface;
    int64_t lead_ns = 200'000'000;      // start instant = now + lead
    int64_t linger_ns = 1'000'000'000;  // capture until the last expected departure + linger
};

struct live_stats {
    uint64_t sent = 0, send_errors = 0;
    uint64_t received = 0;             // frames seen on rx_iface (not outgoing ones)
    uint64_t matched = 0;              // ... that are sent frames (by their bytes)
    uint64_t foreign = 0;              // ... that are not
    uint64_t model_drops = 0;          // drops of the model at the actual send instants
    uint64_t unexpected_losses = 0;    // admitted by the model, never received
    uint64_t unexpected_arrivals = 0;  // dropped by the model, received all the same
    uint64_t kernel_rx_drops = 0;      // the capture socket's own drops (PACKET_STATISTICS)
    histogram send_lag;                // actual send instant - scheduled instant
};

// Runs the live replay; OUT (o.out_path) gets the received frames that were sent, in receive order,
// stamped with their kernel receive time. Feeds `report` as the virtual replay does. Throws replay_error.
replay_summary run_live(const replay_options &o, const live_options &l, fidelity_report &report,
                        live_stats &stats);

// The "live" object of the JSON report, and the lines added to the text summary.
std::string live_json(const live_options &l, const live_stats &s);
std::string live_text(const live_stats &s);

}  // namespace stasis::replay
