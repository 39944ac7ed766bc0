// The seam between the Xen backend and Xen's toolstack libraries: every libxl/libxenctrl call the backend
// makes, as one interface. xen_api_libxl.cpp calls the real libraries; tests/node/fake_xen.* models
// domains without a hypervisor. Return codes are libxl's (0, or ERROR_* < 0); libxenctrl failures are
// ERROR_FAIL with errno's text in last_error(), as libxl itself reports them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace stasis::node {

// libxl_error values (tools/libs/light/libxl_types.idl) the backend tells apart.
namespace xl_rc {
constexpr int ok = 0;
constexpr int fail = -3;               // ERROR_FAIL: a hypercall or a stream failed
constexpr int inval = -6;              // ERROR_INVAL: the request does not apply
constexpr int guest_timedout = -8;     // ERROR_GUEST_TIMEDOUT: the guest did not acknowledge a suspend
constexpr int domain_notfound = -21;   // ERROR_DOMAIN_NOTFOUND
}  // namespace xl_rc

const char *xl_rc_name(int rc);

// libxl_dominfo's state bits (a domain may be paused *and* shut down: suspended while paused).
struct xen_dominfo {
    uint32_t domid = 0;
    bool running = false;
    bool blocked = false;
    bool paused = false;
    bool shutdown = false;
    bool dying = false;
    int shutdown_reason = -1;  // LIBXL_SHUTDOWN_REASON_*: 2 = suspend
    uint64_t cpu_time_ns = 0;
};
constexpr int xen_shutdown_suspend = 2;

// xc_domain_get_tsc_info: what the save stream's X86_TSC_INFO record carries.
struct xen_tsc_info {
    uint32_t mode = 0;        // 0 default, 1 always_emulate, 2 native (XEN_DOMCTL/libxl numbering)
    uint64_t elapsed_ns = 0;  // emulated TSC: guest time since creation, carried across save/restore
    uint32_t khz = 0;         // the guest's TSC frequency
    uint32_t incarnation = 0; // +1 on every restore (and on creation)
};

class xen_api {
public:
    virtual ~xen_api() = default;

    // libxl_domain_create_new from a libxl JSON domain config (libxl_domain_config_to_json's shape); the
    // new domain is left paused, as libxl leaves it.
    virtual int create(const std::string &config_json, uint32_t &domid) = 0;
    // libxl_retrieve_domain_configuration, as JSON: what a restore needs (xl keeps it in the save header).
    virtual int retrieve_config(uint32_t domid, std::string &config_json) = 0;
    virtual int info(uint32_t domid, xen_dominfo &out) = 0;                // libxl_domain_info
    virtual int find_by_name(const std::string &name, uint32_t &domid) = 0;  // libxl_name_to_domid
    virtual int pause(uint32_t domid) = 0;    // libxl_domain_pause: +1 on Xen's controller pause count
    virtual int unpause(uint32_t domid) = 0;  // libxl_domain_unpause: -1; ERROR_FAIL at 0 (EINVAL)
    // True when libxl_domain_suspend needs the guest to act (PV, PVH, HVM with PV drivers): libxl asks it
    // through an event channel or xenstore and waits up to 60 s, so a paused guest never answers.
    virtual int suspend_needs_guest(uint32_t domid, bool &needs) = 0;
    // libxl_domain_suspend to `fd` (not live): on success the domain is shut down (reason suspend).
    virtual int suspend(uint32_t domid, int fd) = 0;
    // libxl_domain_resume: undoes a suspend in place (suspend_cancel: the guest's suspend returns 1).
    virtual int resume(uint32_t domid, bool suspend_cancel) = 0;
    // libxl_domain_create_restore from `fd`; the domain is left paused.
    virtual int restore(const std::string &config_json, int fd, uint32_t &domid) = 0;
    virtual int destroy(uint32_t domid) = 0;  // libxl_domain_destroy
    virtual int get_tsc_info(uint32_t domid, xen_tsc_info &out) = 0;       // xc_domain_get_tsc_info
    virtual int set_time_offset(uint32_t domid, int32_t offset_s) = 0;     // xc_domain_set_time_offset

    // What the library said about the last failure (libxl's log line, or the call and errno).
    virtual std::string last_error() const = 0;
};

// The real one: a libxl context and a libxenctrl handle. Fails (nullptr, why in `error`) where no
// hypervisor runs (no /dev/xen/privcmd, not dom0).
std::unique_ptr<xen_api> open_libxl_api(std::string &error);

}  // namespace stasis::node
