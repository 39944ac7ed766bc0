// The client options (CURVE keys, or plain) the controller uses for one agent of an experiment.
#pragma once

#include "stasis/control/agent_client.hpp"
#include "stasis/experiment.pb.h"

namespace stasis::control {

// Throws std::runtime_error naming the key file when a key cannot be read.
client_options client_options_for(const stasis::experiment::Experiment &exp,
                                  const stasis::experiment::Agent &agent);

}  // namespace stasis::control
