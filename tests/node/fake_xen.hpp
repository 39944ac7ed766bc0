// A fake Xen at the xen_api seam: domains with ids, Xen's controller pause count, shutdown(suspend),
// dying, a TSC record and a wall-clock offset, and what libxl 4.17 returns for each call in each state.
// No hypervisor: the "guest" is a counter of the nanoseconds it ran, which a suspend writes into the
// stream and a restore reads back, so a test can tell whether the guest ran, and whether anything was lost.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "xen_api.hpp"

namespace stasis::node::testing {

struct fake_domain {
    uint32_t domid = 0;
    std::string name;
    std::string type;            // c_info.type: "pv", "pvh", "hvm"
    std::string config_json;     // what libxl_retrieve_domain_configuration gives back
    int pause_count = 1;         // Xen's controller_pause_count: a new domain starts at 1
    bool shutdown = false;
    int shutdown_reason = -1;
    bool dying = false;
    xen_tsc_info tsc;
    int64_t tsc_origin_ns = 0;   // emulated TSC: elapsed = now - origin (Xen's vtsc_offset)
    int32_t time_offset_s = 0;
    int64_t ran_ns = 0;          // the guest's work: time it was runnable
    int64_t running_since_ns = 0;  // 0 when not runnable

    bool runnable() const { return pause_count == 0 && !shutdown && !dying; }
};

// The host: shared by every fake_xen handle, kept by the test to look at and to break things.
struct fake_hypervisor {
    std::mutex lock;
    std::map<uint32_t, fake_domain> domains;
    uint32_t next_domid = 1;
    uint32_t host_tsc_khz = 2'400'000;
    std::vector<std::string> calls;  // "pause 1", "suspend 1", ... in order

    // Faults.
    int pause_errno = 0;           // libxl_domain_pause fails with ERROR_FAIL and this errno
    bool pause_ignored = false;    // pause "succeeds" but the domain goes on running
    bool guest_acks_suspend = true;  // a PV-aware guest that never answers: ERROR_GUEST_TIMEDOUT
    bool hvm_pv_drivers = true;    // HVM guests with PV drivers suspend cooperatively (Linux does)

    fake_domain *find(uint32_t domid);
    fake_domain *find(const std::string &name);
    void settle(fake_domain &d, int64_t now_ns);  // accounts the time it ran up to now
};

class fake_xen final : public xen_api {
public:
    explicit fake_xen(std::shared_ptr<fake_hypervisor> host) : _host(std::move(host)) {}

    int create(const std::string &config_json, uint32_t &domid) override;
    int retrieve_config(uint32_t domid, std::string &config_json) override;
    int info(uint32_t domid, xen_dominfo &out) override;
    int find_by_name(const std::string &name, uint32_t &domid) override;
    int pause(uint32_t domid) override;
    int unpause(uint32_t domid) override;
    int suspend_needs_guest(uint32_t domid, bool &needs) override;
    int suspend(uint32_t domid, int fd) override;
    int resume(uint32_t domid, bool suspend_cancel) override;
    int restore(const std::string &config_json, int fd, uint32_t &domid) override;
    int destroy(uint32_t domid) override;
    int get_tsc_info(uint32_t domid, xen_tsc_info &out) override;
    int set_time_offset(uint32_t domid, int32_t offset_s) override;
    std::string last_error() const override { return _last_error; }

private:
    int error(int rc, std::string message);
    int build(const std::string &config_json, fake_domain &d);
    bool needs_guest(const fake_domain &d) const;
    void tsc_refresh(fake_domain &d, int64_t now_ns) const;

    std::shared_ptr<fake_hypervisor> _host;
    std::string _last_error;
};

}  // namespace stasis::node::testing
