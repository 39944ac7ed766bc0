// What every agent answers alike.
#include "stasis/control/agent_replies.hpp"

#include <ctime>
#include <string>

namespace stasis::control {

Reply hello_reply(std::string_view agent, std::initializer_list<std::string_view> capabilities)
{
    Reply r;
    auto *h = r.mutable_hello();
    h->set_agent(std::string(agent));
    h->set_version(STASIS_VERSION);
    for (std::string_view cap : capabilities)
        h->add_capabilities(std::string(cap));
    h->set_realtime_ns(realtime_ns());
    return r;
}

Reply clock_probe_reply()
{
    Reply r;
    r.mutable_clock()->set_receive_ns(realtime_ns());
    r.mutable_clock()->set_transmit_ns(realtime_ns());
    return r;
}

}  // namespace stasis::control
