// The link of `stasis replay` from its command-line options, with the configuration file's units,
// merging and rules (docs/CONFIG.md), so that a bad value reads as it would in delayd.conf.
#pragma once

#include <expected>
#include <optional>
#include <string>

#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::replay {

struct link_options {
    std::optional<std::string> delay, rate, queue, queue_bytes, plr, seed, jitter, jitter_dist;
    std::optional<std::string> ge;   // "p,r" or "p,r,loss_good,loss_bad"
    std::optional<std::string> aqm;  // droptail, red, gred
    std::optional<std::string> red;  // "thresh[,maxthresh[,q_weight[,linterm]]]"
};

// Unset options keep pipe_params' defaults (50-slot queue, no loss, seed 1). The error names the
// option ("--plr 1.5: plr: ...").
std::expected<dataplane::pipe_params, std::string> link_from_options(const link_options &o);

}  // namespace stasis::replay
