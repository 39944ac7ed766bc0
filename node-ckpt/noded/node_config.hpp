// stasis-noded's configuration as a plain struct: the node.proto text parsed, checked as a whole (file and
// line in every error) and turned into one qemu_config per guest.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "stasis/node/qemu_backend.hpp"

namespace stasis::noded {

struct guest_spec {
    node::qemu_config qemu;  // everything but the disk, which the disk store decides
    std::string disk_base;   // empty: no disk
};

struct node_config {
    std::string name;
    std::string control;
    std::string state_dir;
    std::vector<guest_spec> guests;

    std::string run_dir(const std::string &guest) const { return state_dir + "/run/" + guest; }
    std::string disk_dir() const { return state_dir + "/disks"; }
};

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws config_error with every problem, one per line, each as FILE:LINE: ...
node_config parse_node_config(const std::string &text, const std::string &file);
node_config load_node_config(const std::string &file);

}  // namespace stasis::noded
