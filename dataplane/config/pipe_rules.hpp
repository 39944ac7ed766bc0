// The rules a pipe's exact parameters obey, whether they come from a file, `link set` or a snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include "issue.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::detail {

// Limits documented in docs/CONFIG.md.
constexpr int64_t max_delay_ns = 3600'000'000'000;  // delay and jitter: one hour
constexpr uint32_t max_queue_slots = 1u << 20;
constexpr uint64_t min_queue_bytes = 64;            // one minimum Ethernet frame
constexpr uint64_t max_queue_bytes = 1ull << 30;
constexpr uint32_t max_fifo_slots = 1u << 24;

std::vector<issue> pipe_rules(const pipe_params &p);

}  // namespace stasis::dataplane::detail
