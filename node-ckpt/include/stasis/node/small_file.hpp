// A small file (a state's metadata, a checkpoint's manifest) written whole and fsynced, or not at all.
#pragma once

#include <string>

#include "stasis/node/error.hpp"

namespace stasis::node {

// Creates or truncates `path`, writes `text`, fsyncs. On any error (a full disk: ENOSPC in the message)
// the file is removed, so a reader never finds a part of it.
result<void> write_small_file(const std::string &path, const std::string &text);

}  // namespace stasis::node
