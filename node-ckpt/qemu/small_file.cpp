// write(2) in a loop, fsync, and unlink on error.
#include "stasis/node/small_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stasis::node {

result<void> write_small_file(const std::string &path, const std::string &text)
{
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(node_error::kind::io, "cannot create " + path + ": " + std::strerror(errno));
    int err = 0;
    for (size_t done = 0; done < text.size() && !err;) {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n >= 0)
            done += size_t(n);
        else if (errno != EINTR)
            err = errno;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err)
        return {};
    unlink(path.c_str());
    return fail(node_error::kind::io, "cannot write " + path + ": " + std::strerror(err));
}

}  // namespace stasis::node
