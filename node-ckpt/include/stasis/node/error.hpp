// The typed result of every node-checkpoint operation: a value, or what failed and a message for a person.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace stasis::node {

struct node_error {
    enum class kind : uint8_t {
        io,        // a system call failed (socket, file, process)
        timeout,   // no answer in time
        closed,    // the peer went away (QEMU exited, the guest agent's socket closed)
        protocol,  // an answer that is not what the protocol says
        command,   // the peer refused the command (a QMP error, a guest agent error)
        state,     // the operation does not apply in the guest's current state
    };
    kind what;
    std::string message;  // names the socket, file or process concerned
};

template <class T>
using result = std::expected<T, node_error>;

inline std::unexpected<node_error> fail(node_error::kind what, std::string message)
{
    return std::unexpected(node_error{what, std::move(message)});
}

}  // namespace stasis::node
