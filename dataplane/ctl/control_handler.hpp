// Answers the control socket's requests (link show/set/stats, hello) from the delay node.
#pragma once

#include "delay_node.hpp"
#include "stasis/control.pb.h"

namespace stasis::dataplane {

// Never throws for anything a peer can send: every failure is a status code and a message.
stasis::control::Reply handle_request(delay_node &node, const stasis::control::Request &req);

}  // namespace stasis::dataplane
