// The one error type of the snapshot component: a kind to branch on and a message for people.
#pragma once

#include <expected>
#include <string>

namespace stasis::snapshot {

enum class errc {
    io,           // a system call failed (sys_errno says which error)
    no_space,     // ENOSPC or EDQUOT while saving: retry on another file system
    truncated,    // the file ends before its trailer
    corrupted,    // a checksum does not match, or a record is malformed
    bad_magic,    // not a Stasis snapshot
    bad_version,  // a snapshot of another format version
    invalid,      // well-formed, but the contents break a rule (parameters, structure)
    usage,        // the caller broke the writer's order (a bug in the caller)
    stopped,      // a reader callback asked to stop
};

struct error {
    errc code;
    std::string message;  // complete: names the file, and the record and byte offset when known
    int sys_errno = 0;    // for errc::io and errc::no_space

    const char *what() const noexcept { return message.c_str(); }
};

template <class T>
using result = std::expected<T, error>;

}  // namespace stasis::snapshot
