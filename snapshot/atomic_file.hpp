// A file written under a temporary name in its directory and renamed into place when complete, so
// that a crash or an error never leaves a half-written file under the final name.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "stasis/snapshot/error.hpp"

namespace stasis::snapshot {

class atomic_file {
public:
    // Creates DIR/.NAME.tmp-PID-N next to `path`.
    static result<atomic_file> create(const std::string &path);

    atomic_file(atomic_file &&o) noexcept;
    atomic_file &operator=(atomic_file &&o) noexcept;
    ~atomic_file() { abort(); }

    // Writes every part, in order, looping over short writes. On error, the temporary is removed.
    result<void> write(std::span<const iovec> parts);
    // fsync, close, rename to the final name, fsync the directory. On error, nothing remains under
    // the temporary name; if the rename happened but the directory sync failed, the new file is
    // removed too, so the caller's "failed" is what the directory says.
    result<void> commit();
    // Closes and removes the temporary (no-op once committed or aborted).
    void abort() noexcept;

    const std::string &path() const noexcept { return _path; }
    const std::string &temp_path() const noexcept { return _temp; }
    uint64_t offset() const noexcept { return _offset; }

private:
    atomic_file(std::string path, std::string temp, int fd) noexcept
        : _path(std::move(path)), _temp(std::move(temp)), _fd(fd) {}
    error fail(const char *what, int err);

    std::string _path, _temp;
    int _fd = -1;
    uint64_t _offset = 0;
};

// "PATH: WHAT: strerror" as an error of kind io or no_space.
error system_error(const std::string &path, const std::string &what, int err);

}  // namespace stasis::snapshot
