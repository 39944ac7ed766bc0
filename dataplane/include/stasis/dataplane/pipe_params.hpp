// Parameters of one pipe (one direction of a link), in exact integer units, as the model uses them.
#pragma once

#include <cstdint>

namespace stasis::dataplane {

enum class aqm_kind : uint8_t { droptail, red, gred };
enum class loss_kind : uint8_t { none, bernoulli, gilbert_elliott };
enum class jitter_dist : uint8_t { uniform, normal, pareto, paretonormal };

struct gilbert_elliott_params {
    double p = 0;          // P(good -> bad) per packet
    double r = 1;          // P(bad -> good) per packet
    double loss_good = 0;  // 1 - k
    double loss_bad = 1;   // 1 - h

    bool operator==(const gilbert_elliott_params &) const = default;
};

// Emulab/Dummynet RED parameters. Thresholds are in packets for a slot-limited queue and in bytes for
// a byte-limited one.
struct red_params {
    double thresh = 5;      // min_th
    double maxthresh = 15;  // max_th
    double q_weight = 0.002;
    uint32_t linterm = 10;  // max_p = 1/linterm

    bool operator==(const red_params &) const = default;
};

struct pipe_params {
    int64_t delay_ns = 0;
    int64_t jitter_ns = 0;  // 0 = no jitter
    jitter_dist jitter = jitter_dist::uniform;
    uint64_t rate_bps = 0;       // 0 = unlimited
    uint32_t queue_slots = 50;   // used when queue_bytes == 0
    uint64_t queue_bytes = 0;    // nonzero: the queue is limited in bytes instead of slots
    loss_kind loss = loss_kind::none;
    double plr = 0;              // Bernoulli loss rate
    gilbert_elliott_params ge;
    aqm_kind aqm = aqm_kind::droptail;
    red_params red;
    uint64_t seed = 1;
    uint32_t fifo_slots = 0;     // departure FIFO capacity for the runtime; 0 = derive

    bool operator==(const pipe_params &) const = default;
};

// Why a packet was not admitted.
enum class drop_reason : uint8_t { none, loss, queue, red };

}  // namespace stasis::dataplane
