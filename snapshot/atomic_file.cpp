// Temporary name, large writes, fsync, rename, directory fsync; any error removes the temporary.
#include "atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <system_error>
#include <utility>
#include <vector>

namespace stasis::snapshot {
namespace {

std::string dir_of(const std::string &path)
{
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string &path)
{
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::atomic<unsigned> temp_serial{0};

}  // namespace

error system_error(const std::string &path, const std::string &what, int err)
{
    const bool full = err == ENOSPC || err == EDQUOT;
    return {full ? errc::no_space : errc::io,
            path + ": " + what + ": " + std::generic_category().message(err), err};
}

result<atomic_file> atomic_file::create(const std::string &path)
{
    const std::string base = base_of(path);
    if (base.empty() || base == "." || base == "..")
        return std::unexpected(error{errc::usage, path + ": not a file name"});
    const std::string dir = dir_of(path) == "/" ? "" : dir_of(path);
    for (;;) {
        // A stale temporary of an earlier process with our pid is left alone: take the next serial.
        const std::string temp = dir + "/." + base + ".tmp-" + std::to_string(getpid()) + "-" +
                                 std::to_string(temp_serial++);
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0)
            return atomic_file(path, temp, fd);
        if (errno != EEXIST)
            return std::unexpected(system_error(path, "cannot create " + temp, errno));
    }
}

atomic_file::atomic_file(atomic_file &&o) noexcept
    : _path(std::move(o._path)), _temp(std::move(o._temp)), _fd(std::exchange(o._fd, -1)),
      _offset(o._offset)
{
}

atomic_file &atomic_file::operator=(atomic_file &&o) noexcept
{
    if (this != &o) {
        abort();
        _path = std::move(o._path);
        _temp = std::move(o._temp);
        _fd = std::exchange(o._fd, -1);
        _offset = o._offset;
    }
    return *this;
}

void atomic_file::abort() noexcept
{
    if (_fd < 0)
        return;
    ::close(_fd);
    ::unlink(_temp.c_str());
    _fd = -1;
}

error atomic_file::fail(const char *what, int err)
{
    error e = system_error(_path, std::string(what) + " " + _temp + " at offset " +
                                      std::to_string(_offset), err);
    abort();
    e.message += " (nothing saved; the temporary file was removed)";
    return e;
}

result<void> atomic_file::write(std::span<const iovec> parts)
{
    if (_fd < 0)
        return std::unexpected(error{errc::usage, _path + ": write after the file was closed"});
    std::vector<iovec> left(parts.begin(), parts.end());
    size_t first = 0;
    while (first < left.size()) {
        const int n = int(std::min<size_t>(left.size() - first, IOV_MAX));
        const ssize_t done = ::writev(_fd, left.data() + first, n);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return std::unexpected(fail("writing", errno));
        }
        if (done == 0)
            return std::unexpected(fail("writing", EIO));
        _offset += uint64_t(done);
        size_t rest = size_t(done);
        while (first < left.size() && rest >= left[first].iov_len)
            rest -= left[first++].iov_len;
        if (rest) {
            left[first].iov_base = static_cast<char *>(left[first].iov_base) + rest;
            left[first].iov_len -= rest;
        }
    }
    return {};
}

result<void> atomic_file::commit()
{
    if (_fd < 0)
        return std::unexpected(error{errc::usage, _path + ": commit after the file was closed"});
    if (::fsync(_fd) != 0)
        return std::unexpected(fail("syncing", errno));
    const int fd = std::exchange(_fd, -1);
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(_temp.c_str());
        return std::unexpected(system_error(_path, "closing " + _temp, err));
    }
    if (::rename(_temp.c_str(), _path.c_str()) != 0) {
        const int err = errno;
        ::unlink(_temp.c_str());
        return std::unexpected(system_error(_path, "renaming " + _temp, err));
    }
    const std::string dir = dir_of(_path);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        const int err = errno;
        if (dfd >= 0)
            ::close(dfd);
        ::unlink(_path.c_str());
        return std::unexpected(system_error(_path, "syncing directory " + dir, err));
    }
    ::close(dfd);
    return {};
}

}  // namespace stasis::snapshot
