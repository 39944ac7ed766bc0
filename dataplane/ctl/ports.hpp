// DPDK ports: finding them by name or number, and setting one up for a single worker.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

struct rte_mempool;

namespace stasis::dataplane {

// "net_af_packet0" (a device name) or "0" (a port number) -> port id; the error lists the ports there are.
std::expected<uint16_t, std::string> find_port(const std::string &name);

// Name of a port as DPDK knows it.
std::string port_name(uint16_t port_id);

// One RX and one TX queue (a port belongs to exactly one worker), promiscuous, started.
std::expected<void, std::string> start_port(uint16_t port_id, rte_mempool *pool, uint16_t rx_desc,
                                            uint16_t tx_desc);

void stop_port(uint16_t port_id);

}  // namespace stasis::dataplane
