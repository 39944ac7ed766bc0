// The host end of stasis-guest's agent (node-ckpt/guest): JSON requests and replies over the unix socket of
// the guest's virtio-serial port. A restored guest has a new QEMU and so a new socket: connect again.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "stasis/node/error.hpp"

namespace stasis::node {

class line_socket;

class guest_agent {
public:
    using ms = std::chrono::milliseconds;

    // Connects and waits until the agent answers "hello" (the guest may still be booting).
    static result<guest_agent> connect(const std::string &socket_path, ms timeout = ms(60'000));

    guest_agent(guest_agent &&) noexcept;
    guest_agent &operator=(guest_agent &&) noexcept;
    ~guest_agent();

    // Sends {"cmd": command, ...arguments} and returns the reply; a reply with "ok": false is
    // node_error::kind::command with the agent's message.
    result<nlohmann::json> call(const std::string &command, nlohmann::json arguments = nlohmann::json::object(),
                                ms timeout = ms(10'000));

    // The commands the checkpoint tests and the demo use (see agent.cpp in the guest for all of them).
    result<nlohmann::json> clock_start(int64_t period_us = 0) { return call("clock-start", {{"period_us", period_us}}); }
    result<nlohmann::json> clock_stats() { return call("clock-stats"); }
    result<nlohmann::json> set_clock(int64_t realtime_ns) { return call("set-clock", {{"realtime_ns", realtime_ns}}); }
    result<nlohmann::json> step_clock(int64_t delta_ns) { return call("step-clock", {{"delta_ns", delta_ns}}); }
    result<nlohmann::json> summary() { return call("summary"); }

    const std::string &socket_path() const { return _path; }

private:
    guest_agent(std::unique_ptr<line_socket> socket, std::string path);

    std::unique_ptr<line_socket> _socket;
    std::string _path;
    uint64_t _next_id = 1;
};

}  // namespace stasis::node
