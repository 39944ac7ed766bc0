// The agent daemons' security options: usage rules and loading the keys.
#include "stasis/control/agent_security.hpp"

#include <stdexcept>

#include "stasis/control/curve.hpp"

namespace stasis::control {

std::string security_usage_error(const agent_security &s, bool check_only)
{
    if (s.plain && (!s.curve_key.empty() || !s.allow.empty()))
        return "--plain excludes --curve-key and --allow";
    if (!s.curve_key.empty() && s.allow.empty())
        return "--curve-key needs at least one --allow FILE (the controllers to let in)";
    if (s.curve_key.empty() && !s.allow.empty())
        return "--allow needs --curve-key FILE (this agent's own key pair)";
    if (!s.plain && s.curve_key.empty() && !check_only)
        return "choose how the control socket authenticates: --curve-key FILE --allow FILE "
               "(CURVE, docs/SECURITY.md) or --plain (unauthenticated, loopback endpoints only)";
    return {};
}

std::optional<curve_server_options> load_security(const agent_security &s, const std::string &endpoint)
{
    if (s.curve_key.empty()) {
        if (s.plain && !is_loopback_endpoint(endpoint))
            throw std::runtime_error(std::string("--plain on ").append(endpoint).append(
                ": an unauthenticated control socket may only listen on loopback (tcp://127.0.0.1:PORT, "
                "ipc://PATH); use CURVE keys"));
        return std::nullopt;
    }
    curve_server_options curve;
    curve.keys = read_secret_key_file(s.curve_key);
    for (const auto &file : s.allow)
        for (auto &key : read_allow_list(file))
            curve.allowed.push_back(std::move(key));
    return curve;
}

}  // namespace stasis::control
