// The snapshot file format, byte by byte (docs/SNAPSHOT.md has the prose). Little-endian throughout.
//
//   preamble   magic[8] "\x89STASNP\n", u32 version, u32 flags (0)                     16 bytes
//   record*    u32 type, u64 length, u32 crc32c(type, length)                           16 bytes
//              payload[length]
//              u32 crc32c(payload)                                                        4 bytes
//
// Records, in order: header; per link: link, pipe a_to_b, packets*, pipe b_to_a, packets*; trailer,
// which ends the file. header, link and pipe are protobuf messages (proto/stasis/snapshot.proto);
// packets and trailer are the binary layouts below.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string_view>

namespace stasis::snapshot::format {

static_assert(std::endian::native == std::endian::little, "the format is little-endian");

inline constexpr uint32_t version = 1;

// 0x89 catches 7-bit transfers, "\n" newline conversions (as PNG's signature does).
inline constexpr std::array<unsigned char, 8> magic = {0x89, 'S', 'T', 'A', 'S', 'N', 'P', '\n'};
inline constexpr size_t preamble_bytes = 16;

enum class record_type : uint32_t {
    header = 1,   // stasis.snapshot.Header
    link = 2,     // stasis.snapshot.Link
    pipe = 3,     // stasis.snapshot.Pipe
    packets = 4,  // packets_head, count x packet_entry, then the frames back to back
    trailer = 5,  // trailer
};
std::string_view type_name(uint32_t type) noexcept;  // "packets", or "unknown"

struct record_head {
    uint32_t type;
    uint64_t length;  // payload bytes
    uint32_t head_crc;  // crc32c of the 12 bytes above
} __attribute__((packed));
static_assert(sizeof(record_head) == 16);
inline constexpr size_t record_overhead = sizeof(record_head) + 4;

// Metadata records stay small; a packets record holds up to chunk_target_bytes of frames and of
// entries (64-byte frames: 4 MiB of frames after 1.5 MiB of entries).
inline constexpr uint64_t max_record_bytes = 64ull << 20;
inline constexpr uint64_t chunk_target_bytes = 4ull << 20;
// libpcap's largest snapshot length: every frame can be exported.
inline constexpr uint32_t max_frame_bytes = 262'144;

struct packets_head {
    uint32_t count;
    uint32_t flags;  // 0
};
struct packet_entry {
    int64_t arrival_rel_ns;
    int64_t depart_rel_ns;
    uint32_t len;       // frame bytes, 1..max_frame_bytes
    uint32_t reserved;  // 0
};
static_assert(sizeof(packets_head) == 8 && sizeof(packet_entry) == 24);

struct trailer {
    uint64_t records;        // before the trailer
    uint64_t links;
    uint64_t pipes;
    uint64_t packets;
    uint64_t packet_bytes;   // frame bytes
    uint64_t trailer_offset; // the trailer record's own offset: the bytes before it
    uint32_t file_crc;       // crc32c of bytes [0, trailer_offset)
    uint32_t reserved;       // 0
};
static_assert(sizeof(trailer) == 56);

}  // namespace stasis::snapshot::format
