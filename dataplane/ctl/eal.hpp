// EAL start-up and shutdown, wrapped once: errors become exceptions with rte_errno's text.
#pragma once

#include <stdexcept>
#include <string>

namespace stasis::dataplane {

struct startup_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Initializes EAL with the arguments before "--" and cleans it up on destruction. argv[0] is kept
// as the program name. `consumed()` tells how many arguments EAL took.
class eal_session {
public:
    eal_session(int argc, char **argv);
    ~eal_session();
    eal_session(const eal_session &) = delete;
    eal_session &operator=(const eal_session &) = delete;

    int consumed() const noexcept { return _consumed; }

private:
    int _consumed = 0;
};

std::string rte_error_text(int err);

}  // namespace stasis::dataplane
