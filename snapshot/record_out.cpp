// Records on their way out: the payload is checksummed once; the file checksum is joined from it.
#include "record_out.hpp"

#include <array>
#include <cstring>

#include "stasis/snapshot/crc32c.hpp"

namespace stasis::snapshot {

result<record_out> record_out::start(const std::string &path)
{
    auto f = atomic_file::create(path);
    if (!f)
        return std::unexpected(f.error());
    record_out out(std::move(*f));
    std::array<unsigned char, format::preamble_bytes> pre{};
    std::memcpy(pre.data(), format::magic.data(), format::magic.size());
    const uint32_t version = format::version;
    std::memcpy(pre.data() + 8, &version, 4);
    const iovec part{pre.data(), pre.size()};
    if (auto ok = out._file.write({&part, 1}); !ok)
        return std::unexpected(ok.error());
    out._file_crc = crc32c(0, pre.data(), pre.size());
    return out;
}

result<void> record_out::write(format::record_type type,
                               std::span<const std::span<const std::byte>> payload)
{
    format::record_head head{uint32_t(type), 0, 0};
    uint32_t crc = 0;
    for (auto piece : payload) {
        head.length += piece.size();
        crc = crc32c(crc, piece);
    }
    head.head_crc = crc32c(0, &head, 12);

    if (payload.size() > 3)
        return std::unexpected(error{errc::usage, path() + ": a record of more than 3 pieces"});
    std::array<iovec, 5> parts;
    size_t n = 0;
    parts[n++] = {&head, sizeof head};
    for (auto piece : payload)
        if (!piece.empty())
            parts[n++] = {const_cast<std::byte *>(piece.data()), piece.size()};
    parts[n++] = {&crc, sizeof crc};
    if (auto ok = _file.write({parts.data(), n}); !ok)
        return ok;

    _file_crc = crc32c(_file_crc, &head, sizeof head);
    _file_crc = crc32c_combine(_file_crc, crc, head.length);
    _file_crc = crc32c(_file_crc, &crc, sizeof crc);
    _records++;
    return {};
}

}  // namespace stasis::snapshot
