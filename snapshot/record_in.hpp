// Framing of records on their way in: every length, checksum and the trailer checked before use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "stasis/snapshot/error.hpp"
#include "stasis/snapshot/format.hpp"

namespace stasis::snapshot {

struct record_view {
    uint32_t type;
    uint64_t index;
    uint64_t offset;
    std::span<const std::byte> payload;  // valid until the next call to next()
};

class record_in {
public:
    // Reads and checks the preamble of the open file `fd` (not owned).
    static result<record_in> start(int fd, const std::string &path);

    // The next record, its checksums checked. After the trailer (whose own fields are checked
    // against the file) it returns nullopt.
    result<std::optional<record_view>> next();

    uint64_t file_bytes() const noexcept { return _size; }
    uint64_t records() const noexcept { return _index; }
    uint32_t version() const noexcept { return format::version; }

    // "PATH: record N (TYPE) at offset X: WHAT (KIND)" for the record just returned.
    error at(const record_view &r, errc code, const std::string &what) const;

private:
    record_in(int fd, std::string path, uint64_t size) : _fd(fd), _path(std::move(path)), _size(size) {}
    result<void> read_at(uint64_t offset, void *dst, size_t n) const;
    error here(errc code, const std::string &what) const;
    result<void> check_trailer(const record_view &r);

    int _fd;
    std::string _path;
    uint64_t _size;
    uint64_t _offset = format::preamble_bytes;
    uint64_t _index = 0;
    uint32_t _file_crc = 0;
    bool _done = false;
    std::unique_ptr<std::byte[]> _buf;
    size_t _cap = 0;
    uint32_t _type = 0;  // of the record being read, for here()
};

// " (truncated)", " (corrupted)"...: the word every message ends with.
const char *kind_suffix(errc code) noexcept;

}  // namespace stasis::snapshot
