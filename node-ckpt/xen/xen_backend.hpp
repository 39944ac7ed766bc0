// The Xen backend of guest_backend: one libxl domain per guest, paused and unpaused at F and R, saved with
// libxl_domain_suspend and restored with libxl_domain_create_restore, through the xen_api seam.
#pragma once

#include <memory>
#include <string>

#include "stasis/node/guest_backend.hpp"
#include "xen_api.hpp"

namespace stasis::node {

// b_info.tsc_mode (docs/NODE.md, "Xen: what the guest's clocks see").
enum class xen_tsc_mode : uint8_t {
    always_emulate,  // rdtsc traps; the TSC counts Xen's time since creation, carried across save/restore
    native,          // rdtsc runs natively: fastest, but another host's TSC rate shows without TSC scaling
    xen_default,     // Xen's choice: native where the host's TSC is safe and rates match, else emulated
};
const char *to_string(xen_tsc_mode mode);  // libxl's word: "always_emulate", "native", "default"

struct xen_config {
    std::string name = "guest";  // the domain's name (c_info.name is set to it)
    // The libxl domain configuration as JSON (libxl_domain_config_to_json's shape, what `xl create -n`
    // would build): c_info, b_info, disks, nics. tsc_mode is set from `tsc`.
    std::string domain_config_json;
    time_mode mode = time_mode::frozen;
    xen_tsc_mode tsc = xen_tsc_mode::always_emulate;
    int32_t time_offset_s = 0;  // the guest's wall clock minus the host's, at start
};

// What the backend did about the guest's time at the last resume, and what the guest will have seen.
struct xen_time_report {
    bool rebooted_clock = false;      // a suspend or restore happened: the guest's resume path re-reads
                                      // Xen's wall clock (so an offset takes effect)
    int32_t offset_before_s = 0;      // xc_domain_set_time_offset: guest wall clock - host wall clock
    int32_t offset_after_s = 0;
    int64_t pause_ns = 0;             // R landed - F landed
    int64_t ran_after_freeze_ns = 0;  // how long the guest ran between F and its suspend (cooperative save)
    xen_tsc_info tsc_saved;           // at save (the X86_TSC_INFO record)
    xen_tsc_info tsc_now;             // after start/restore: incarnation + 1 per restore
};

class xen_backend final : public guest_backend {
public:
    xen_backend(xen_config config, std::unique_ptr<xen_api> api);
    ~xen_backend() override;  // destroys the domain it created or restored
    xen_backend(const xen_backend &) = delete;
    xen_backend &operator=(const xen_backend &) = delete;

    result<void> start() override;
    result<instant_report> freeze_at(int64_t f_ns) override;
    result<save_report> save(const std::string &path) override;
    result<restore_report> restore(const std::string &path) override;
    result<instant_report> resume_at(int64_t r_ns) override;
    result<void> release() override;
    guest_status status() override;
    catch_up_report last_catch_up() const override { return _catch_up; }

    uint32_t domid() const { return _domid; }
    const xen_time_report &last_time() const { return _time; }
    const xen_config &config() const { return _config; }

private:
    node_error failed(const char *what, int rc) const;
    result<void> undo_failed_suspend(bool unpaused_for_guest);
    result<std::string> domain_config_for_start() const;

    xen_config _config;
    std::unique_ptr<xen_api> _api;
    bool _have_domain = false;
    uint32_t _domid = 0;
    guest_state _state = guest_state::absent;
    bool _suspended = false;  // saved in place: shut down (suspend) until libxl_domain_resume
    bool _restored = false;   // the guest's resume path ran (restore or in-place suspend)
    int64_t _frozen_at_ns = 0;
    int32_t _offset_s = 0;    // what we last told Xen (Xen has no getter for it)
    xen_time_report _time;
    catch_up_report _catch_up;
};

}  // namespace stasis::node
