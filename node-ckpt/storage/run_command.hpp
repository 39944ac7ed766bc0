// Runs a command (no shell) and collects its exit status and output: how the stores drive qemu-img and lvm.
#pragma once

#include <string>
#include <vector>

#include "stasis/node/error.hpp"

namespace stasis::node {

struct command_output {
    int exit_status = -1;  // the exit code; 128 + N when killed by signal N
    std::string out;
    std::string err;
};

// Starts argv[0] from PATH with stdin from /dev/null and waits for it. Fails (io) only when it cannot be
// started or waited for; a non-zero exit is in the output.
result<command_output> run_command(const std::vector<std::string> &argv);

// The same, but a non-zero exit is a `command` error that names the command and quotes its stderr.
result<std::string> run_checked(const std::vector<std::string> &argv);

}  // namespace stasis::node
