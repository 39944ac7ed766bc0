// The delay node as the control thread sees it: links planned onto workers, ports, the mbuf pool,
// and the operations of the control socket (show, set, stats).
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "stasis/dataplane/config.hpp"
#include "node_clock.hpp"
#include "worker.hpp"

struct rte_mempool;

namespace stasis::dataplane {

enum class direction : uint8_t { both, a_to_b, b_to_a };

// Where a link lives: its worker and the indexes of its two pipes there.
struct link_slot {
    link_config applied;  // the configuration as applied now (updated by set_link)
    size_t worker = 0;
    uint32_t pipe_ab = 0, pipe_ba = 0;
};

// What a freeze captured: the instant, when each worker noticed it, what each link holds.
struct freeze_report {
    int64_t freeze_ns = 0;
    bool reached = false;  // the clock has passed the freeze instant
    struct notice {
        unsigned lcore;
        int64_t noticed_ns;  // INT64_MAX: not yet
    };
    std::vector<notice> workers;
    struct held {
        std::string link;
        uint32_t packets_ab = 0, packets_ba = 0;
        uint64_t bytes_ab = 0, bytes_ba = 0;
    };
    std::vector<held> links;
};

// What a save wrote or a load read.
struct save_report {
    std::string path;
    int64_t freeze_ns = 0;
    uint64_t packets = 0, bytes = 0, file_bytes = 0;
    uint32_t content_crc = 0;  // a save's: the file's own CRC32C (its trailer's)
};

struct op_error {
    enum class kind { not_found, invalid, failed } what;
    std::string message;
};

class delay_node {
public:
    // Resolves every port and plans every link onto a worker; throws startup_error naming every
    // problem (file, line, field) before anything is started: the daemon never starts half configured.
    delay_node(const daemon_config &cfg, const node_clock &clock, const worker_options &opt);
    ~delay_node();
    delay_node(const delay_node &) = delete;
    delay_node &operator=(const delay_node &) = delete;

    // Creates the mbuf pool, starts the ports and launches the workers.
    void start();
    // Stops the workers (each finishes its loop turn) and the ports. Idempotent.
    void stop();

    const std::vector<link_slot> &links() const noexcept { return _links; }
    const std::vector<std::unique_ptr<worker>> &workers() const noexcept { return _workers; }
    const std::vector<uint16_t> &port_ids() const noexcept { return _port_ids; }
    const daemon_config &config() const noexcept { return _cfg; }
    const node_clock &clock() const noexcept { return _clock; }

    const link_slot *find(const std::string &name) const;

    // New parameters for one or both directions, applied by the owning worker at its next command
    // poll; packets already queued keep their departures. Fails without changing anything.
    std::expected<void, op_error> set_link(const std::string &name, direction dir,
                                           const pipe_params &ab, const pipe_params &ba);

    // Freeze at the absolute CLOCK_REALTIME instant at_ns (0: now, plus a guard of 200 us so that
    // every worker knows the instant before it passes). Departures before it are sent; nothing departs
    // at or after it; arrivals are still accepted and queued (the drain window).
    std::expected<int64_t, op_error> freeze(int64_t at_ns);
    // The freeze instant, the workers' notices and the frames held per link (parks the workers briefly).
    std::expected<freeze_report, op_error> freeze_status();
    // Resume in place at at_ns (0: now + 1 ms): every held instant t becomes t - F + at_ns.
    std::expected<int64_t, op_error> thaw(int64_t at_ns);
    // Writes the frozen state (parameters, model states, held frames, instants relative to F) to a
    // snapshot file. On any failure the node stays frozen with its state intact.
    std::expected<save_report, op_error> save(const std::string &path);
    // Replaces the state of the snapshot's links (matched by name) and freezes at its F: `thaw(R)`
    // then resumes it (every instant t becomes t - F + R). Fails, changing nothing, when a link is
    // missing or the file is damaged.
    // A frozen node refuses unless `discard_frozen` (a time-travel drops the present it froze).
    std::expected<save_report, op_error> load(const std::string &path, bool discard_frozen = false);
    bool frozen() const noexcept { return _hold_from.load(std::memory_order_relaxed) != INT64_MAX; }
    // The freeze instant F while frozen (or scheduled), INT64_MAX otherwise.
    int64_t hold_from_ns() const noexcept { return _hold_from.load(std::memory_order_relaxed); }

    // Counters of a pipe and of a port (read without stopping the workers).
    const pipe_counters &counters(const link_slot &l, bool a_to_b) const;
    const port_counters &counters_of_port(uint16_t port_id) const;

private:
    link_slot *slot_named(const std::string &name);
    std::expected<void, op_error> send(size_t worker, std::unique_ptr<command> c);
    // Every worker parked (or none: on failure the parked ones are released again).
    std::expected<void, op_error> park_all();
    void unpark_all();

    daemon_config _cfg;
    node_clock _clock;
    worker_options _opt;
    std::vector<std::unique_ptr<worker>> _workers;
    std::vector<link_slot> _links;
    std::vector<uint16_t> _port_ids;  // every port in use
    rte_mempool *_pool = nullptr;
    bool _running = false;
    alignas(64) std::atomic<int64_t> _hold_from{INT64_MAX};  // read by every worker once a turn
};

}  // namespace stasis::dataplane
