// CURVE keys of an experiment's controller and agents, as client options.
#include "controller_keys.hpp"

#include "stasis/control/curve.hpp"

namespace stasis::control {

client_options client_options_for(const stasis::experiment::Experiment &exp,
                                  const stasis::experiment::Agent &agent)
{
    client_options o;
    if (exp.controller_key().empty())  // plain: the experiment file allows it only on loopback
        return o;
    curve_client_options c;
    c.keys = read_secret_key_file(exp.controller_key());
    c.server_key = read_key_file(agent.public_key()).public_key;
    o.curve = std::move(c);
    return o;
}

}  // namespace stasis::control
