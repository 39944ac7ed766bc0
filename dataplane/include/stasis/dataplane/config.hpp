// The delay node's configuration: a plain struct parsed from protobuf text format, validated as a
// whole, dumped back exactly (parse(dump(c)) == c), and changed at run time by `stasis link set`.
//
// The file format, units and defaults are documented in docs/CONFIG.md.
// Errors: reading a file throws config_error with every problem at once (configuration time);
// run-time changes (parse_assignments, apply_changes) return std::expected and never throw.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stasis/config.pb.h"
#include "stasis/dataplane/pipe_params.hpp"

namespace stasis::dataplane {

// A link endpoint: a DPDK port (device name or number) and an optional 802.1Q VLAN id.
struct endpoint {
    std::string port;
    std::optional<uint16_t> vlan;  // 1..4094; none = untagged
    std::string where;             // "delayd.conf:12: link 'lan0' a.port", for the daemon's messages

    // `where` is provenance, not configuration: it does not take part in equality.
    bool operator==(const endpoint &o) const { return port == o.port && vlan == o.vlan; }
};

struct link_config {
    std::string name;
    endpoint a, b;
    pipe_params a_to_b, b_to_a;  // every default filled in
    std::string where;           // "delayd.conf:10: link 'lan0'"

    bool operator==(const link_config &o) const {
        return name == o.name && a == o.a && b == o.b && a_to_b == o.a_to_b && b_to_a == o.b_to_a;
    }
};

struct daemon_config {
    std::string control = "tcp://127.0.0.1:6001";
    std::vector<unsigned> worker_lcores;  // empty: every lcore but the main one
    uint32_t burst = 32;
    int64_t idle_sleep_ns = 50'000;
    uint32_t idle_turns = 256;
    uint32_t mbufs = 0;  // 0: sized from the FIFOs
    uint32_t command_poll_turns = 64;
    std::vector<link_config> links;

    bool operator==(const daemon_config &) const = default;
};

// Every problem found in a configuration, one "file:line: where: what" per entry; what() joins them
// with newlines.
class config_error : public std::runtime_error {
public:
    explicit config_error(std::vector<std::string> errors);
    const std::vector<std::string> &errors() const noexcept { return _errors; }

private:
    std::vector<std::string> _errors;
};

// Parses and validates a whole configuration; `filename` only names the text in messages.
daemon_config parse_config(std::string_view text, std::string_view filename);
daemon_config load_config_file(const std::string &path);

// The seed a direction gets when the file sets none: FNV-1a 64 of "<link>/a_to_b" or "<link>/b_to_a".
uint64_t default_seed(std::string_view link_name, bool a_to_b);

// The rules of the file for one pipe, on exact parameters (e.g. a snapshot's). Lists every problem,
// each as "field: what" ("plr: plr 1.5 is not in [0, 1]"); empty when valid.
std::vector<std::string> check_pipe(const pipe_params &p);

// Dumping: every pipe field is written explicitly, in human units.
stasis::config::Pipe to_proto(const pipe_params &p);
stasis::config::Link to_proto(const link_config &link);
stasis::config::Config to_proto(const daemon_config &c);
std::string dump_config(const daemon_config &c);

// `stasis link set lan0 delay=20ms plr=0.01` -> the Pipe of changes. Checks keys and value syntax
// (units, enum names) and names the bad word; ranges are checked by apply_changes.
std::expected<stasis::config::Pipe, std::string> parse_assignments(const std::vector<std::string> &args);

// The parameters after `changes`, validated with the file's rules; the error names every problem.
std::expected<pipe_params, std::string> apply_changes(const pipe_params &base,
                                                      const stasis::config::Pipe &changes);

}  // namespace stasis::dataplane
