// The delay node as an agent of the control protocol: answers requests (links, freeze, checkpoint
// phases, clock probes) and produces the events its subscribers are pushed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "delay_node.hpp"
#include "stasis/control.pb.h"

namespace stasis::dataplane {

class delay_agent {
public:
    delay_agent(delay_node &node, std::string name) : _node(node), _name(std::move(name)) {}

    // Never throws for anything a peer can send: every failure is a status code and a message.
    control::Reply handle(const control::Request &req);

    // Work that falls due with time (a deferred resume of an abort, FROZEN and RESUMED events);
    // returns the events to push. Call it at least every next_due_ns() and after every request.
    std::vector<control::Event> tick();
    // The CLOCK_REALTIME instant the next tick() has something to do at (INT64_MAX: none).
    int64_t next_due_ns() const;

    // A Release was answered: the daemon should stop once the reply is out.
    bool released() const noexcept { return _released; }

private:
    control::Reply prepare(const control::Prepare &q);
    control::Reply abort(const control::Abort &q);
    control::Reply release(const control::Release &q);
    control::Reply save(const control::Save &q);
    control::Reply load(const control::Load &q);
    control::Reply thaw(const control::Thaw &q);
    control::Reply freeze_status();
    void forget_checkpoint();
    control::Event event(control::Event::Kind kind, std::string message) const;

    delay_node &_node;
    std::string _name;                    // in events: which agent
    std::string _checkpoint;              // named by the Prepare (or Load) of this freeze
    std::vector<std::string> _saved;      // files saved during this freeze
    bool _loaded = false;                 // the state came from a snapshot
    bool _frozen_announced = false;
    int64_t _recheck_ns = 0;              // F passed, not every worker noticed yet: look again then
    int64_t _deferred_resume_ns = 0;      // an Abort's R, applied once F has passed
    int64_t _resume_ns = 0;               // a thaw's R, for the RESUMED event
    bool _released = false;
    std::vector<control::Event> _pending; // events made while handling requests
};

}  // namespace stasis::dataplane
