// Commands from the control thread to a worker, passed by pointer through an SPSC queue.
#pragma once

#include <cstdint>

#include <boost/lockfree/spsc_queue.hpp>

#include "departure_fifo.hpp"
#include "stasis/dataplane/pipe_model.hpp"

struct rte_mbuf;

namespace stasis::dataplane {

enum class command_kind : uint8_t {
    set_params,  // new parameters for one pipe from at_ns on
    stop,        // leave the worker loop
    park,        // stop touching pipes and FIFOs until unpark (snapshots, thaw)
    unpark,
};

// Owned by the control thread; the worker fills the result fields and hands the same object back.
struct command {
    command_kind kind = command_kind::set_params;
    uint32_t pipe = 0;  // index into the worker's pipes
    pipe_params params;
    int64_t at_ns = 0;
    queue_storage spare;  // room for a larger queue; the old storage comes back here
    departure_fifo<rte_mbuf *> fifo_spare;  // a larger departure FIFO, or empty; likewise swapped
    bool ok = false;
};

// Polled every N loop turns by the worker; the control thread waits on the completion queue.
using command_queue = boost::lockfree::spsc_queue<command *, boost::lockfree::capacity<64>>;

}  // namespace stasis::dataplane
