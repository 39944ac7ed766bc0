// How `stasis link show` and `stasis link stats` print what an agent answered.
#pragma once

#include <cstdint>
#include <string>

#include "stasis/control.pb.h"

namespace stasis::tools {

// "net_ring0.10": port, and VLAN when tagged.
std::string endpoint_text(const config::Endpoint &e);

// One direction as applied: the link's `shape` with the direction's overrides merged over it.
config::Pipe effective_pipe(const config::Link &link, bool a_to_b);

// Cells of one pipe, as people write them in the configuration.
std::string jitter_text(const config::Pipe &p);
std::string rate_text(const config::Pipe &p);
std::string queue_text(const config::Pipe &p);
std::string loss_text(const config::Pipe &p);
std::string aqm_text(const config::Pipe &p);

// A duration rounded to three significant digits for reading ("850ns", "12.3us", "1.25ms").
std::string short_ns(int64_t ns);

// The tables, ready to print.
std::string links_table(const control::LinkList &links);
std::string stats_tables(const control::StatsReply &stats);

}  // namespace stasis::tools
