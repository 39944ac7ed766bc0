// /proc/net/snmp and /proc/net/netstat hold pairs of lines: "Prefix: names..." then "Prefix: values...".
#include "tcp_counters.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace stasis::guest {

namespace {

void read_pairs(const char *path, const std::string &prefix, nlohmann::json &out)
{
    std::ifstream in(path);
    std::string names, values;
    while (std::getline(in, names)) {
        if (!std::getline(in, values))
            break;
        if (names.rfind(prefix + ":", 0) != 0)
            continue;
        std::istringstream n(names.substr(prefix.size() + 1)), v(values.substr(prefix.size() + 1));
        std::string name;
        long long value;
        while (n >> name && v >> value)
            out[prefix][name] = value;
    }
}

}  // namespace

nlohmann::json tcp_counters()
{
    nlohmann::json out = nlohmann::json::object();
    read_pairs("/proc/net/snmp", "Tcp", out);
    read_pairs("/proc/net/netstat", "TcpExt", out);
    return out;
}

}  // namespace stasis::guest
