// The guest agent: JSON requests from the host, one a line, on a virtio-serial port; one JSON reply each.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "clock_monitor.hpp"
#include "rtt_probe.hpp"
#include "stream.hpp"

namespace stasis::guest {

class agent {
public:
    // The reply to one request: {"id": ..., "ok": true, ...} or {"id": ..., "ok": false, "error": "..."}.
    nlohmann::json handle(const nlohmann::json &request);
    // Serves the port at `path` until the process is killed; returns only when it cannot be opened.
    int serve(const std::string &path);

private:
    nlohmann::json summary() const;

    clock_monitor _clock;
    stream_sender _sender;
    stream_receiver _receiver;
    echo_server _echo;
    rtt_client _rtt;
};

// The /dev path of the virtio-serial port named `name` (-device virtserialport,name=...), or "".
std::string find_port(const std::string &name);

}  // namespace stasis::guest
