// The security options every agent daemon takes (--curve-key FILE, --allow FILE..., --plain), checked
// and turned into the control socket's CURVE options, the same way for stasis-delayd and stasis-noded.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stasis/control/agent_server.hpp"

namespace stasis::control {

struct agent_security {
    std::string curve_key;           // --curve-key: this agent's key pair
    std::vector<std::string> allow;  // --allow, repeated: the controllers let in
    bool plain = false;              // --plain
};

// What is wrong with the combination, for a usage message; empty when it is fine. A daemon that only
// checks its configuration (`check_only`) may choose neither mode.
std::string security_usage_error(const agent_security &s, bool check_only);

// The CURVE options (none for --plain), keys read and checked before anything starts; throws
// std::runtime_error naming the file, or refusing --plain on an endpoint that is not loopback.
std::optional<curve_server_options> load_security(const agent_security &s, const std::string &endpoint);

}  // namespace stasis::control
