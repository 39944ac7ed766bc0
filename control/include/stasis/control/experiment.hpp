// An experiment file (protobuf text format, proto/stasis/experiment.proto): parsed, validated as a
// whole with the file and line of every problem, defaults filled in, relative paths resolved.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "stasis/experiment.pb.h"

namespace stasis::control {

class experiment_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct experiment_spec {
    std::string file;  // where it was read from (absolute)
    std::string text;  // as read, for the catalog
    stasis::experiment::Experiment msg;  // defaults filled in, paths absolute
};

// Throws experiment_error listing every problem ("demo.exp:7: agent 'd2': endpoint is empty").
experiment_spec parse_experiment(const std::string &text, const std::string &file);
experiment_spec load_experiment(const std::string &path);

// Where an agent's snapshot for a checkpoint goes: SNAPSHOT_DIR/EXPERIMENT/CHECKPOINT/AGENT.snap
// for a delay node, the directory SNAPSHOT_DIR/EXPERIMENT/CHECKPOINT/AGENT for a node agent.
std::string artifact_path(const stasis::experiment::Experiment &exp, const stasis::experiment::Agent &agent,
                          const std::string &checkpoint);

}  // namespace stasis::control
