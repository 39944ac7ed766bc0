// The parts of parse_config that turn a parsed Config message into daemon_config, naming the file,
// line and field of every problem.
#pragma once

#include <string>
#include <vector>

#include "locator.hpp"
#include "stasis/config.pb.h"
#include "stasis/dataplane/config.hpp"

namespace stasis::dataplane::detail {

// `at` is the daemon block; errors are appended as "file:line: daemon.field: what".
void read_daemon(const stasis::config::Daemon &d, const locator &at, daemon_config &out,
                 std::vector<std::string> &errors);

// `root` is the whole file; errors are appended as "file:line: link 'name' field: what".
void read_links(const stasis::config::Config &c, const locator &root, daemon_config &out,
                std::vector<std::string> &errors);

}  // namespace stasis::dataplane::detail
