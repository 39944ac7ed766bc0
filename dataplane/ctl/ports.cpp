// DPDK ports.
#include "ports.hpp"

#include <charconv>

#include <rte_ethdev.h>

#include "eal.hpp"

namespace stasis::dataplane {

static std::string available_ports()
{
    std::string s;
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
        s += s.empty() ? "" : ", ";
        s += std::to_string(id) + "=" + port_name(id);
    }
    return s.empty() ? "none (pass --vdev or a PCI device to EAL)" : s;
}

std::string port_name(uint16_t port_id)
{
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(port_id, name) != 0)
        return "port" + std::to_string(port_id);
    return name;
}

std::expected<uint16_t, std::string> find_port(const std::string &name)
{
    uint16_t id = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec == std::errc() && end == name.data() + name.size()) {
        if (rte_eth_dev_is_valid_port(id))
            return id;
    } else if (rte_eth_dev_get_port_by_name(name.c_str(), &id) == 0) {
        return id;
    }
    return std::unexpected("unknown port '" + name + "'; ports: " + available_ports());
}

std::expected<void, std::string> start_port(uint16_t port_id, rte_mempool *pool, uint16_t rx_desc,
                                            uint16_t tx_desc)
{
    const std::string who = "port " + port_name(port_id) + ": ";
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(port_id, 1, 1, &conf);
    if (rc < 0)
        return std::unexpected(who + "configure failed: " + rte_error_text(rc));
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rx_desc, &tx_desc);
    if (rc < 0)
        return std::unexpected(who + "descriptor counts refused: " + rte_error_text(rc));
    const int socket = rte_eth_dev_socket_id(port_id);
    const unsigned s = socket < 0 ? 0 : unsigned(socket);
    rc = rte_eth_rx_queue_setup(port_id, 0, rx_desc, s, nullptr, pool);
    if (rc < 0)
        return std::unexpected(who + "RX queue setup failed: " + rte_error_text(rc));
    rc = rte_eth_tx_queue_setup(port_id, 0, tx_desc, s, nullptr);
    if (rc < 0)
        return std::unexpected(who + "TX queue setup failed: " + rte_error_text(rc));
    rc = rte_eth_dev_start(port_id);
    if (rc < 0)
        return std::unexpected(who + "start failed: " + rte_error_text(rc));
    // Not every PMD has a promiscuous mode (ring, null): a delay node forwards whatever it receives.
    rte_eth_promiscuous_enable(port_id);
    return {};
}

void stop_port(uint16_t port_id)
{
    rte_eth_dev_stop(port_id);
}

}  // namespace stasis::dataplane
