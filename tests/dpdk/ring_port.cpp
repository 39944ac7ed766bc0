// Ring-backed test ports and test frames.
#include "ring_port.hpp"
#include "stasis/dataplane/realtime.hpp"

#include <cstring>
#include <ctime>
#include <stdexcept>

#include <rte_byteorder.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

namespace stasis::test {

namespace {
constexpr size_t seq_offset = sizeof(rte_ether_hdr) + 20;  // inside what would be the IP payload
}

ring_port::ring_port(const std::string &name) : _name(name)
{
    const unsigned socket = rte_socket_id();
    _rx = rte_ring_create((name + "_rx").c_str(), 8192, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    _tx = rte_ring_create((name + "_tx").c_str(), 8192, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!_rx || !_tx)
        throw std::runtime_error("cannot create rings for " + name);
    const int id = rte_eth_from_rings(name.c_str(), &_rx, 1, &_tx, 1, socket);
    if (id < 0)
        throw std::runtime_error("cannot create ring port " + name);
    _id = uint16_t(id);
    char dev[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(_id, dev) == 0)
        _name = dev;  // the ring PMD prefixes the name ("net_ring_...")
}

ring_port::~ring_port()
{
    rte_eth_dev_stop(_id);
    rte_eth_dev_close(_id);
    for (rte_mbuf *m; (m = take());)
        rte_pktmbuf_free(m);
    void *obj;
    while (rte_ring_dequeue(_rx, &obj) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf *>(obj));
    rte_ring_free(_rx);
    rte_ring_free(_tx);
}

bool ring_port::inject(rte_mbuf *m)
{
    return rte_ring_enqueue(_rx, m) == 0;
}

rte_mbuf *ring_port::take()
{
    void *obj = nullptr;
    return rte_ring_dequeue(_tx, &obj) == 0 ? static_cast<rte_mbuf *>(obj) : nullptr;
}

rte_mempool *test_pool()
{
    static rte_mempool *pool =
        rte_pktmbuf_pool_create("test_frames", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
    if (!pool)
        throw std::runtime_error("cannot create the test mbuf pool");
    return pool;
}

rte_mbuf *make_frame(uint32_t len, uint32_t seq, std::optional<uint16_t> vlan)
{
    rte_mbuf *m = rte_pktmbuf_alloc(test_pool());
    if (!m)
        throw std::runtime_error("test pool exhausted");
    const uint32_t total = len + (vlan ? sizeof(rte_vlan_hdr) : 0);
    char *p = rte_pktmbuf_append(m, uint16_t(total));
    std::memset(p, 0, total);
    auto *eth = reinterpret_cast<rte_ether_hdr *>(p);
    eth->dst_addr.addr_bytes[0] = 0x02;
    eth->src_addr.addr_bytes[0] = 0x02;
    eth->src_addr.addr_bytes[5] = 1;
    size_t off = sizeof(rte_ether_hdr);
    if (vlan) {
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
        auto *vh = reinterpret_cast<rte_vlan_hdr *>(p + off);
        vh->vlan_tci = rte_cpu_to_be_16(*vlan);
        vh->eth_proto = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
        off += sizeof(rte_vlan_hdr);
    } else {
        eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    }
    std::memcpy(p + off + (seq_offset - sizeof(rte_ether_hdr)), &seq, sizeof(seq));
    return m;
}

static size_t l2_len(const rte_mbuf *m)
{
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    return sizeof(rte_ether_hdr) +
           (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ? sizeof(rte_vlan_hdr) : 0);
}

uint32_t frame_seq(const rte_mbuf *m)
{
    uint32_t seq;
    std::memcpy(&seq, rte_pktmbuf_mtod_offset(m, const char *, l2_len(m) + 20), sizeof(seq));
    return seq;
}

std::optional<uint16_t> frame_vlan(const rte_mbuf *m)
{
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN))
        return std::nullopt;
    return uint16_t(rte_be_to_cpu_16(reinterpret_cast<const rte_vlan_hdr *>(eth + 1)->vlan_tci) & 0xfff);
}


}  // namespace stasis::test
