// The kernel's TCP counters: every field of the Tcp: line of /proc/net/snmp and TcpExt: of /proc/net/netstat.
#pragma once

#include <nlohmann/json.hpp>

namespace stasis::guest {

// {"Tcp": {"RetransSegs": n, ...}, "TcpExt": {"TCPLostRetransmit": n, "TCPTimeouts": n, ...}}
nlohmann::json tcp_counters();

}  // namespace stasis::guest
