// From Pipe messages (human units, presence per field) to exact pipe_params.
#pragma once

#include <cstdint>
#include <vector>

#include "issue.hpp"
#include "stasis/config.pb.h"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::detail {

// Field-wise merge (MergeFrom) of `over` into `into`, plus two choices where the later level wins
// as a whole: `over` setting queue_slots without queue_bytes makes the queue slot-limited again, and
// `over` setting plr without gilbert_elliott makes the loss Bernoulli (or none).
void merge_pipe(stasis::config::Pipe &into, const stasis::config::Pipe &over);

// Reads a merged Pipe: unset fields keep pipe_params' defaults; the seed defaults to `seed`.
// Appends the conversion problems and, when there are none, the broken rules.
pipe_params read_pipe(const stasis::config::Pipe &p, uint64_t seed, std::vector<issue> &issues);

}  // namespace stasis::dataplane::detail
