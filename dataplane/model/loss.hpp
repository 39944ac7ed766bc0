// Packet loss before the queue: Bernoulli, or Gilbert-Elliott with a per-packet state transition.
#pragma once

#include <cstdint>

#include "prob.hpp"
#include "rng.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::model {

struct loss_consts {
    loss_kind kind = loss_kind::none;
    uint64_t plr = 0;  // thresholds (prob.hpp)
    uint64_t ge_p = 0, ge_r = 0, ge_loss_good = 0, ge_loss_bad = 0;
};

loss_consts compile_loss(const pipe_params &p) noexcept;

// Draws: none for loss_kind::none, one for Bernoulli, two for Gilbert-Elliott (transition, then loss).
// Gilbert-Elliott moves first and then decides the loss in the state it moved to, so a packet that
// starts a bad period is already subject to the bad-state loss. (Mainline netem decides in the state
// before the transition: its losses come one packet later in a burst; the long-run rate is the same.)
inline bool lose(const loss_consts &c, rng_state &rng, bool &ge_bad) noexcept
{
    switch (c.kind) {
    case loss_kind::none:
        return false;
    case loss_kind::bernoulli:
        return happens(next(rng), c.plr);
    case loss_kind::gilbert_elliott: {
        const uint64_t move = next(rng);
        ge_bad = ge_bad ? !happens(move, c.ge_r) : happens(move, c.ge_p);
        return happens(next(rng), ge_bad ? c.ge_loss_bad : c.ge_loss_good);
    }
    }
    return false;
}

}  // namespace stasis::dataplane::model
