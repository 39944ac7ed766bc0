// A delay node on ring ports, driven from the test's main lcore.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delay_node.hpp"
#include "ring_port.hpp"

namespace stasis::test {

// A frame seen on a TX ring: its sequence number, VLAN, length and when the test took it.
struct seen {
    uint32_t seq;
    std::optional<uint16_t> vlan;
    uint32_t len;
    int64_t at_ns;
};

class node_test : public ::testing::Test {
protected:
    // Ports are named uniquely per test so that DPDK never sees a name twice.
    ring_port &add_port(const std::string &tag);
    dataplane::link_config make_link(const std::string &name, const ring_port &a, const ring_port &b,
                                     const dataplane::pipe_params &p,
                                     std::optional<uint16_t> va = std::nullopt,
                                     std::optional<uint16_t> vb = std::nullopt);
    void start(std::vector<dataplane::link_config> links, std::vector<unsigned> lcores = {1},
               int64_t idle_sleep_ns = 0);
    // Polls every port's TX ring until `until_ns` (realtime) or until `want` frames were seen.
    std::vector<seen> collect(ring_port &port, size_t want, int64_t until_ns);
    void TearDown() override;

    dataplane::worker_options worker_opts;  // start() sets the idle sleep and command polling on a copy
    std::unique_ptr<dataplane::delay_node> node;
    std::vector<std::unique_ptr<ring_port>> ports;
};

}  // namespace stasis::test
