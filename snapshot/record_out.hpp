// Framing of records on their way out: head, payload, checksum, and the whole-file checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "atomic_file.hpp"
#include "stasis/snapshot/format.hpp"

namespace stasis::snapshot {

class record_out {
public:
    // Writes the preamble.
    static result<record_out> start(const std::string &path);

    // One record whose payload is the concatenation of `payload` (up to 3 pieces).
    result<void> write(format::record_type type, std::span<const std::span<const std::byte>> payload);
    result<void> write(format::record_type type, std::span<const std::byte> payload)
    {
        return write(type, std::span<const std::span<const std::byte>>(&payload, 1));
    }

    // Counts for the trailer.
    uint64_t records() const noexcept { return _records; }
    uint64_t offset() const noexcept { return _file.offset(); }
    uint32_t file_crc() const noexcept { return _file_crc; }
    const std::string &path() const noexcept { return _file.path(); }
    atomic_file &file() noexcept { return _file; }

private:
    explicit record_out(atomic_file f) : _file(std::move(f)) {}

    atomic_file _file;
    uint64_t _records = 0;
    uint32_t _file_crc = 0;  // of every byte written so far
};

}  // namespace stasis::snapshot
