// CRC-32C (Castagnoli), as iSCSI, ext4 and SCTP use it: crc32c(0, "123456789") == 0xe3069283.
// SSE4.2 instructions over three interleaved lanes when built for them, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace stasis::snapshot {

// The CRC of the bytes after those whose CRC is `crc` (0 to start): crc32c(crc32c(0, a), b) is the
// CRC of a then b.
uint32_t crc32c(uint32_t crc, const void *data, size_t n) noexcept;
inline uint32_t crc32c(uint32_t crc, std::span<const std::byte> bytes) noexcept
{
    return crc32c(crc, bytes.data(), bytes.size());
}

// The CRC of a then b, from crc32c(0, a), crc32c(0, b) and b's length, without the bytes.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) noexcept;

// The byte-at-a-time table version: the reference the fast one is tested against.
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n) noexcept;

}  // namespace stasis::snapshot
