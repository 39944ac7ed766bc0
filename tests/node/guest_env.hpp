// What the QEMU tests share: the guest image from the environment (meson test sets it), a temporary run
// directory, CLOCK_REALTIME, and ASSERT_OK for results.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#define ASSERT_OK(r) ASSERT_TRUE(r) << (r).error().message

namespace stasis::node::test {

constexpr int64_t ms_ns = 1'000'000;

inline int64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct guest_image {
    std::string kernel, initrd;
};

// The image, or "" when the environment does not name one (the test then skips).
inline guest_image image_from_env()
{
    const char *kernel = std::getenv("STASIS_GUEST_KERNEL");
    const char *initrd = std::getenv("STASIS_GUEST_INITRD");
    if (!kernel || !initrd || !std::filesystem::exists(kernel) || !std::filesystem::exists(initrd))
        return {};
    return {kernel, initrd};
}

// A fresh directory under /tmp, removed on destruction unless STASIS_KEEP_RUN_DIR is set.
class temp_dir {
public:
    temp_dir()
    {
        char tmpl[] = "/tmp/stasis-node-XXXXXX";
        if (mkdtemp(tmpl))
            _path = tmpl;
    }
    ~temp_dir()
    {
        if (!_path.empty() && !std::getenv("STASIS_KEEP_RUN_DIR"))
            std::filesystem::remove_all(_path);
    }
    temp_dir(const temp_dir &) = delete;
    temp_dir &operator=(const temp_dir &) = delete;
    const std::string &path() const { return _path; }

private:
    std::string _path;
};

}  // namespace stasis::node::test
