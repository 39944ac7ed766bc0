// Reading records: preamble, then head (its own checksum), length against the file size, payload
// checksum, and a trailer that must end the file and match what came before.
#include "record_in.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "atomic_file.hpp"
#include "stasis/snapshot/crc32c.hpp"

namespace stasis::snapshot {

const char *kind_suffix(errc code) noexcept
{
    switch (code) {
    case errc::truncated: return " (truncated)";
    case errc::corrupted: return " (corrupted)";
    case errc::invalid: return " (invalid)";
    default: return "";
    }
}

std::string_view format::type_name(uint32_t type) noexcept
{
    switch (record_type(type)) {
    case record_type::header: return "header";
    case record_type::link: return "link";
    case record_type::pipe: return "pipe";
    case record_type::packets: return "packets";
    case record_type::trailer: return "trailer";
    }
    return "unknown";
}

result<record_in> record_in::start(int fd, const std::string &path)
{
    struct stat st;
    if (::fstat(fd, &st) != 0)
        return std::unexpected(system_error(path, "stat", errno));
    record_in in(fd, path, uint64_t(st.st_size));
    unsigned char pre[format::preamble_bytes] = {};
    const size_t have = size_t(std::min<uint64_t>(in._size, sizeof pre));
    if (auto ok = in.read_at(0, pre, have); !ok)
        return std::unexpected(ok.error());
    const size_t magic_have = std::min(have, format::magic.size());
    if (have == 0)
        return std::unexpected(error{errc::truncated, path + ": empty file (truncated)"});
    if (std::memcmp(pre, format::magic.data(), magic_have) != 0)
        return std::unexpected(error{errc::bad_magic, path + ": not a Stasis snapshot (bad magic)"});
    if (have < sizeof pre)
        return std::unexpected(error{errc::truncated, path + ": file of " + std::to_string(have) +
                                                         " bytes ends inside the 16-byte preamble "
                                                         "(truncated)"});
    uint32_t version, flags;
    std::memcpy(&version, pre + 8, 4);
    std::memcpy(&flags, pre + 12, 4);
    if (version != format::version)
        return std::unexpected(error{errc::bad_version,
                                     path + ": snapshot format version " + std::to_string(version) +
                                         ", but this build reads version " +
                                         std::to_string(format::version)});
    if (flags != 0)
        return std::unexpected(error{errc::corrupted, path + ": preamble flags " +
                                                          std::to_string(flags) + " (corrupted)"});
    in._file_crc = crc32c(0, pre, sizeof pre);
    return in;
}

result<void> record_in::read_at(uint64_t offset, void *dst, size_t n) const
{
    auto *p = static_cast<char *>(dst);
    while (n) {
        const ssize_t got = ::pread(_fd, p, n, off_t(offset));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return std::unexpected(system_error(_path, "read at offset " + std::to_string(offset),
                                                errno));
        }
        if (got == 0)
            return std::unexpected(here(errc::truncated, "the file shrank while being read"));
        p += got;
        n -= size_t(got);
        offset += uint64_t(got);
    }
    return {};
}

error record_in::here(errc code, const std::string &what) const
{
    std::string where = _path + ": record " + std::to_string(_index);
    if (_type != 0)
        where += " (" + std::string(format::type_name(_type)) + ")";
    return {code, where + " at offset " + std::to_string(_offset) + ": " + what + kind_suffix(code)};
}

error record_in::at(const record_view &r, errc code, const std::string &what) const
{
    return {code, _path + ": record " + std::to_string(r.index) + " (" +
                      std::string(format::type_name(r.type)) + ") at offset " +
                      std::to_string(r.offset) + ": " + what + kind_suffix(code)};
}

result<std::optional<record_view>> record_in::next()
{
    if (_done)
        return std::nullopt;
    _type = 0;
    if (_offset == _size)
        return std::unexpected(error{errc::truncated,
                                     _path + ": ends at offset " + std::to_string(_size) +
                                         " after record " + std::to_string(_index) +
                                         " without a trailer (truncated)"});
    format::record_head head;
    if (_size - _offset < sizeof head)
        return std::unexpected(here(errc::truncated, "the file ends " +
                                                         std::to_string(_size - _offset) +
                                                         " bytes into the 16-byte record head"));
    if (auto ok = read_at(_offset, &head, sizeof head); !ok)
        return std::unexpected(ok.error());
    if (crc32c(0, &head, 12) != head.head_crc)
        return std::unexpected(here(errc::corrupted, "record head checksum mismatch"));
    _type = head.type;
    if (format::type_name(head.type) == "unknown")
        return std::unexpected(
            here(errc::corrupted, "unknown record type " + std::to_string(head.type)));
    if (head.length > format::max_record_bytes)
        return std::unexpected(here(errc::corrupted, "length " + std::to_string(head.length) +
                                                         " above the maximum of " +
                                                         std::to_string(format::max_record_bytes)));
    const uint64_t end = _offset + sizeof head + head.length + 4;
    if (end > _size)
        return std::unexpected(here(errc::truncated, "its " + std::to_string(head.length) +
                                                         " bytes run past the end of the file at " +
                                                         std::to_string(_size)));
    const size_t n = size_t(head.length) + 4;
    if (n > _cap) {
        _cap = std::max(n, size_t(1) << 20);
        _buf = std::make_unique_for_overwrite<std::byte[]>(_cap);
    }
    if (auto ok = read_at(_offset + sizeof head, _buf.get(), n); !ok)
        return std::unexpected(ok.error());
    uint32_t stored;
    std::memcpy(&stored, _buf.get() + head.length, 4);
    const uint32_t crc = crc32c(0, _buf.get(), size_t(head.length));
    if (crc != stored)
        return std::unexpected(here(errc::corrupted, "checksum mismatch"));

    const record_view r{head.type, _index, _offset, {_buf.get(), size_t(head.length)}};
    if (head.type == uint32_t(format::record_type::trailer)) {
        if (auto ok = check_trailer(r); !ok)
            return std::unexpected(ok.error());
        _done = true;
    } else {
        _file_crc = crc32c(_file_crc, &head, sizeof head);
        _file_crc = crc32c_combine(_file_crc, crc, head.length);
        _file_crc = crc32c(_file_crc, &stored, 4);
    }
    _offset = end;
    _index++;
    return r;
}

result<void> record_in::check_trailer(const record_view &r)
{
    format::trailer t;
    if (r.payload.size() != sizeof t)
        return std::unexpected(at(r, errc::corrupted, "trailer of " + std::to_string(r.payload.size()) +
                                                          " bytes, not " + std::to_string(sizeof t)));
    std::memcpy(&t, r.payload.data(), sizeof t);
    const uint64_t end = r.offset + format::record_overhead + sizeof t;
    if (end != _size)
        return std::unexpected(at(r, errc::corrupted, std::to_string(_size - end) +
                                                          " bytes follow the trailer"));
    if (t.records != r.index || t.trailer_offset != r.offset || t.reserved != 0)
        return std::unexpected(at(r, errc::corrupted, "the trailer counts " + std::to_string(t.records) +
                                                          " records before offset " +
                                                          std::to_string(t.trailer_offset)));
    if (t.file_crc != _file_crc)
        return std::unexpected(at(r, errc::corrupted, "whole-file checksum mismatch"));
    return {};
}

}  // namespace stasis::snapshot
