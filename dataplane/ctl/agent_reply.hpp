// Small helpers shared by the delay agent's request handlers: error replies and report conversion.
#pragma once

#include <string>

#include "delay_node.hpp"
#include "stasis/control.pb.h"

namespace stasis::dataplane {

inline control::Reply agent_fail(control::Status s, std::string msg)
{
    control::Reply r;
    r.set_status(s);
    r.set_message(std::move(msg));
    return r;
}

inline control::Status op_status(const op_error &e)
{
    switch (e.what) {
    case op_error::kind::not_found:
        return control::NOT_FOUND;
    case op_error::kind::invalid:
        return control::INVALID_ARGUMENT;
    case op_error::kind::failed:
        break;
    }
    return control::FAILED;
}

// A freeze report in protobuf terms (frozen, F, reached, worker notices, frames held per link).
void to_proto(const freeze_report &rep, control::FreezeReport &out);
// A save or load report in protobuf terms.
void to_proto(const save_report &rep, control::SnapshotReport &out);

}  // namespace stasis::dataplane
