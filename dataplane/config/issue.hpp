// One problem found while reading or checking configuration, before it is given a file location.
#pragma once

#include <string>
#include <vector>

namespace stasis::dataplane::detail {

// `fields` are paths in the message being checked ("delay", "red.maxthresh"). The first is what the
// problem is about; the file layer names the first of them that the user wrote (a value that came
// from a default has no line), or the first one when none was written.
struct issue {
    std::vector<std::string> fields;
    std::string message;
};

}  // namespace stasis::dataplane::detail
