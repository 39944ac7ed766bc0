// The real xen_api: libxl (domains, save/restore) and libxenctrl (TSC, time offset, HVM params), each call
// synchronous (ao_how NULL). Only built, never run here: no hypervisor on the build machines.
#define LIBXL_API_VERSION 0x041300
extern "C" {
#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xen/hvm/params.h>
}

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "xen_api.hpp"

namespace stasis::node {

namespace {

// A xentoollog logger that keeps the last error-level line, so that an ERROR_FAIL can say why.
struct capture_logger {
    xentoollog_logger vtable;  // first: libxl casts back to it
    std::mutex lock;
    std::string last;
};

void capture_vmessage(xentoollog_logger *logger, xentoollog_level level, int errnoval, const char *context,
                      const char *format, va_list al)
{
    if (level < XTL_ERROR)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, format, al);
    auto *self = reinterpret_cast<capture_logger *>(logger);
    std::lock_guard g(self->lock);
    self->last = std::string(context ? context : "xen") + ": " + line;
    if (errnoval >= 0)
        self->last += std::string(": ") + std::strerror(errnoval);
}

void capture_destroy(xentoollog_logger *) {}

class libxl_api final : public xen_api {
public:
    libxl_api() { _log.vtable = {capture_vmessage, nullptr, capture_destroy}; }
    ~libxl_api() override
    {
        if (_xch)
            xc_interface_close(_xch);
        libxl_ctx_free(_ctx);
    }

    bool open(std::string &error)
    {
        if (libxl_ctx_alloc(&_ctx, LIBXL_VERSION, 0, &_log.vtable) != 0) {
            error = "libxl_ctx_alloc: " + last_error();
            return false;
        }
        _xch = xc_interface_open(&_log.vtable, &_log.vtable, 0);
        if (!_xch) {
            error = "xc_interface_open: " + last_error();
            return false;
        }
        return true;
    }

    int create(const std::string &config_json, uint32_t &domid) override
    {
        libxl_domain_config config;
        if (int rc = parse_config(config_json, config); rc != 0)
            return rc;
        const int rc = libxl_domain_create_new(_ctx, &config, &domid, nullptr, nullptr);
        libxl_domain_config_dispose(&config);
        return rc;
    }

    int retrieve_config(uint32_t domid, std::string &config_json) override
    {
        libxl_domain_config config;
        libxl_domain_config_init(&config);
        int rc = libxl_retrieve_domain_configuration(_ctx, domid, &config, nullptr);
        if (rc == 0) {
            char *json = libxl_domain_config_to_json(_ctx, &config);
            if (json)
                config_json = json;
            else
                rc = ERROR_FAIL;
            std::free(json);
        }
        libxl_domain_config_dispose(&config);
        return rc;
    }

    int info(uint32_t domid, xen_dominfo &out) override
    {
        libxl_dominfo d;
        libxl_dominfo_init(&d);
        const int rc = libxl_domain_info(_ctx, &d, domid);
        if (rc == 0)
            out = {.domid = d.domid, .running = d.running, .blocked = d.blocked, .paused = d.paused,
                   .shutdown = d.shutdown, .dying = d.dying, .shutdown_reason = int(d.shutdown_reason),
                   .cpu_time_ns = d.cpu_time};
        libxl_dominfo_dispose(&d);
        return rc;
    }

    int find_by_name(const std::string &name, uint32_t &domid) override
    {
        return libxl_name_to_domid(_ctx, name.c_str(), &domid);
    }

    int pause(uint32_t domid) override { return libxl_domain_pause(_ctx, domid, nullptr); }
    int unpause(uint32_t domid) override { return libxl_domain_unpause(_ctx, domid, nullptr); }

    // libxl's own test (domain_suspend_callback_common): PV and PVH always; HVM unless it has no PV
    // callback (no PV drivers) or is in an ACPI sleep state, when xc_domain_shutdown does it alone.
    int suspend_needs_guest(uint32_t domid, bool &needs) override
    {
        libxl_dominfo d;
        libxl_dominfo_init(&d);
        const int rc = libxl_domain_info(_ctx, &d, domid);
        const libxl_domain_type type = d.domain_type;
        libxl_dominfo_dispose(&d);
        if (rc != 0)
            return rc;
        if (type != LIBXL_DOMAIN_TYPE_HVM) {
            needs = true;
            return 0;
        }
        uint64_t pv_callback = 0, s_state = 0;
        if (xc_hvm_param_get(_xch, domid, HVM_PARAM_CALLBACK_IRQ, &pv_callback) != 0 ||
            xc_hvm_param_get(_xch, domid, HVM_PARAM_ACPI_S_STATE, &s_state) != 0)
            return xc_failed("xc_hvm_param_get");
        needs = pv_callback != 0 && s_state == 0;
        return 0;
    }

    int suspend(uint32_t domid, int fd) override { return libxl_domain_suspend(_ctx, domid, fd, 0, nullptr); }
    int resume(uint32_t domid, bool suspend_cancel) override
    {
        return libxl_domain_resume(_ctx, domid, suspend_cancel ? 1 : 0, nullptr);
    }

    int restore(const std::string &config_json, int fd, uint32_t &domid) override
    {
        libxl_domain_config config;
        if (int rc = parse_config(config_json, config); rc != 0)
            return rc;
        libxl_domain_restore_params params;
        libxl_domain_restore_params_init(&params);
        params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
        params.stream_version = 2;  // what libxl_domain_suspend writes
        const int rc = libxl_domain_create_restore(_ctx, &config, &domid, fd, -1, &params, nullptr, nullptr);
        libxl_domain_restore_params_dispose(&params);
        libxl_domain_config_dispose(&config);
        return rc;
    }

    int destroy(uint32_t domid) override { return libxl_domain_destroy(_ctx, domid, nullptr); }

    int get_tsc_info(uint32_t domid, xen_tsc_info &out) override
    {
        if (xc_domain_get_tsc_info(_xch, domid, &out.mode, &out.elapsed_ns, &out.khz, &out.incarnation) != 0)
            return xc_failed("xc_domain_get_tsc_info");
        return 0;
    }

    int set_time_offset(uint32_t domid, int32_t offset_s) override
    {
        if (xc_domain_set_time_offset(_xch, domid, offset_s) != 0)
            return xc_failed("xc_domain_set_time_offset");
        return 0;
    }

    std::string last_error() const override
    {
        std::lock_guard g(_log.lock);
        return _log.last;
    }

private:
    int parse_config(const std::string &json, libxl_domain_config &config)
    {
        libxl_domain_config_init(&config);
        const int rc = libxl_domain_config_from_json(_ctx, &config, json.c_str());
        if (rc != 0)
            libxl_domain_config_dispose(&config);
        return rc;
    }

    int xc_failed(const char *call)
    {
        const int e = errno;
        std::lock_guard g(_log.lock);
        _log.last = std::string(call) + ": " + std::strerror(e);
        return ERROR_FAIL;
    }

    mutable capture_logger _log;
    libxl_ctx *_ctx = nullptr;
    xc_interface *_xch = nullptr;
};

}  // namespace

std::unique_ptr<xen_api> open_libxl_api(std::string &error)
{
    auto api = std::make_unique<libxl_api>();
    if (!api->open(error))
        return nullptr;
    return api;
}

}  // namespace stasis::node
