// EAL start-up and shutdown.
#include "eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

namespace stasis::dataplane {

std::string rte_error_text(int err)
{
    return rte_strerror(err < 0 ? -err : err);
}

eal_session::eal_session(int argc, char **argv)
{
    const int n = rte_eal_init(argc, argv);
    if (n < 0)
        throw startup_error("EAL initialization failed: " + rte_error_text(rte_errno) +
                            " (check the EAL arguments before '--', hugepages, and that you are root)");
    _consumed = n;
}

eal_session::~eal_session()
{
    rte_eal_cleanup();
}

}  // namespace stasis::dataplane
