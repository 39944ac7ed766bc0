// stasis-xen-probe: whether this host can run the Xen backend (a libxl context and libxenctrl handle), and
// the state and TSC record of a domain by name. Also proves that the real xen_api links.
#include <cstdio>

#include "xen_api.hpp"

int main(int argc, char **argv)
{
    std::string error;
    auto api = stasis::node::open_libxl_api(error);
    if (!api) {
        std::fprintf(stderr, "stasis-xen-probe: no Xen here: %s\n", error.c_str());
        return 1;
    }
    for (int i = 1; i < argc; ++i) {
        uint32_t domid = 0;
        stasis::node::xen_dominfo d;
        stasis::node::xen_tsc_info t;
        if (int rc = api->find_by_name(argv[i], domid); rc != 0) {
            std::printf("%s: no such domain (%s)\n", argv[i], stasis::node::xl_rc_name(rc));
            continue;
        }
        if (api->info(domid, d) != 0 || api->get_tsc_info(domid, t) != 0) {
            std::printf("%s: domid %u: %s\n", argv[i], domid, api->last_error().c_str());
            continue;
        }
        std::printf("%s: domid %u paused=%d shutdown=%d dying=%d tsc_mode=%u khz=%u incarnation=%u\n", argv[i],
                    domid, d.paused, d.shutdown, d.dying, t.mode, t.khz, t.incarnation);
    }
    return 0;
}
