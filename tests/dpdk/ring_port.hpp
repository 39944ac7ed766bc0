// Test ports backed by rte_rings: the test puts frames on a port's RX ring and takes what the delay
// node transmitted from its TX ring, with the time it saw them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "stasis/dataplane/realtime.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace stasis::test {

class ring_port {
public:
    explicit ring_port(const std::string &name);
    ~ring_port();
    ring_port(const ring_port &) = delete;
    ring_port &operator=(const ring_port &) = delete;

    const std::string &name() const { return _name; }
    uint16_t id() const { return _id; }
    bool inject(rte_mbuf *m);          // the delay node receives it
    rte_mbuf *take();                  // what the delay node sent, or nullptr

private:
    std::string _name;
    rte_ring *_rx = nullptr, *_tx = nullptr;
    uint16_t _id = 0;
};

rte_mempool *test_pool();  // shared pool for the frames tests build

// An Ethernet frame of len bytes (without 802.1Q tag) carrying `seq`, optionally tagged.
rte_mbuf *make_frame(uint32_t len, uint32_t seq, std::optional<uint16_t> vlan = std::nullopt);
uint32_t frame_seq(const rte_mbuf *m);
std::optional<uint16_t> frame_vlan(const rte_mbuf *m);

using dataplane::realtime_ns;

}  // namespace stasis::test
