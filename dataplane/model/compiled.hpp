// Constants the fast path derives from a pipe's parameters at construction and set_params().
#pragma once

#include <cstdint>

#include "jitter_table.hpp"
#include "loss.hpp"
#include "rate.hpp"
#include "red.hpp"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane::model {

struct compiled_params {
    loss_consts loss;
    red_consts red;
    rate_consts rate;
    jitter_consts jitter;
    int64_t delay_ns = 0;
    uint64_t queue_bytes = 0;  // nonzero: byte limit
    uint32_t queue_slots = 0;
};

// Only double math and table lookups: no allocation, usable from set_params().
inline compiled_params compile(const pipe_params &p) noexcept
{
    compiled_params c;
    c.loss = compile_loss(p);
    c.red = compile_red(p);
    c.rate = compile_rate(p.rate_bps);
    c.jitter = compile_jitter(p);
    c.delay_ns = p.delay_ns;
    c.queue_bytes = p.queue_bytes;
    c.queue_slots = p.queue_slots;
    return c;
}

}  // namespace stasis::dataplane::model
