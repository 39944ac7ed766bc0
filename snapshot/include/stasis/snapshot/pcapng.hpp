// The packets a snapshot holds, as pcapng with their arrival times (F + arrival_rel_ns, in ns).
#pragma once

#include <cstdint>
#include <string>

#include "stasis/snapshot/error.hpp"
#include "stasis/snapshot/reader.hpp"

namespace stasis::snapshot {

struct export_stats {
    uint32_t interfaces = 0;  // one per link and direction: "lan0/a_to_b"
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

// Writes out_path (through a temporary name, as snapshots are written): one section, one Ethernet
// interface per link and direction with if_name and if_tsresol 9 (nanoseconds), one enhanced packet
// block per packet, link by link, in each pipe's FIFO order.
result<export_stats> export_pcapng(const snapshot_reader &reader, const std::string &out_path);

}  // namespace stasis::snapshot
