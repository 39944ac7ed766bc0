// snapshot_writer: metadata records as they come, packets gathered into chunk records of about
// format::chunk_target_bytes, checked order, and the first error ending the file.
#include "stasis/snapshot/writer.hpp"
#include "stasis/dataplane/realtime.hpp"

#include <time.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <set>

#include "codec.hpp"
#include "record_out.hpp"

namespace stasis::snapshot {

namespace {

using dataplane::realtime_ns;

std::string hostname()
{
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0)
        return {};
    return name;
}

template <class Message>
std::string serialize(const Message &m)
{
    std::string bytes;
    m.SerializeToString(&bytes);
    return bytes;
}

std::span<const std::byte> as_bytes(const std::string &s) { return std::as_bytes(std::span(s)); }

}  // namespace

struct snapshot_writer::impl {
    std::string path;
    std::optional<record_out> out;  // empty once failed or committed
    std::optional<error> failed;
    bool committed = false;
    uint64_t file_bytes = 0;  // once committed
    uint32_t content_crc = 0; // once committed: the trailer's file_crc

    // Where we are: links begun, pipes of the current link (0..2).
    uint64_t links = 0, pipes = 0;
    unsigned link_pipes = 2;
    std::string link_name;
    std::set<std::string> link_names;

    // The chunk being gathered: its head and entries, and its frames.
    std::unique_ptr<std::byte[]> entries;
    std::unique_ptr<std::byte[]> frames;
    uint32_t count = 0;
    size_t frame_bytes = 0;
    uint64_t packets = 0, packet_bytes = 0;

    static constexpr size_t max_count = format::chunk_target_bytes / sizeof(format::packet_entry);
    static constexpr size_t entries_cap =
        sizeof(format::packets_head) + max_count * sizeof(format::packet_entry);
    static constexpr size_t frames_cap = format::chunk_target_bytes;

    std::unexpected<error> fail(error e)
    {
        out.reset();  // removes the temporary
        failed = e;
        return std::unexpected(std::move(e));
    }
    std::unexpected<error> misuse(const std::string &what)
    {
        return fail({errc::usage, path + ": " + what + " (the snapshot was abandoned)"});
    }
    result<void> usable()
    {
        if (failed)
            return std::unexpected(*failed);
        if (committed)
            return std::unexpected(error{errc::usage, path + ": already committed"});
        return {};
    }

    result<void> record(format::record_type type, std::span<const std::span<const std::byte>> parts)
    {
        if (auto ok = out->write(type, parts); !ok)
            return fail(ok.error());
        return {};
    }
    result<void> record(format::record_type type, std::span<const std::byte> payload)
    {
        return record(type, std::span<const std::span<const std::byte>>(&payload, 1));
    }

    result<void> flush_chunk()
    {
        if (count == 0)
            return {};
        const format::packets_head head{count, 0};
        std::memcpy(entries.get(), &head, sizeof head);
        const std::span<const std::byte> parts[] = {
            {entries.get(), sizeof head + count * sizeof(format::packet_entry)},
            {frames.get(), frame_bytes},
        };
        count = 0;
        frame_bytes = 0;
        return record(format::record_type::packets, parts);
    }

    result<void> add(int64_t arrival, int64_t depart, std::span<const std::span<const std::byte>> segs)
    {
        size_t len = 0;
        for (auto s : segs)
            len += s.size();
        if (len == 0 || len > format::max_frame_bytes)
            return misuse("link '" + link_name + "': a frame of " + std::to_string(len) +
                          " bytes (1.." + std::to_string(format::max_frame_bytes) + ")");
        const format::packet_entry e{arrival, depart, uint32_t(len), 0};
        if (frame_bytes + len > frames_cap || count >= max_count) {
            if (auto ok = flush_chunk(); !ok)
                return ok;
        }
        std::memcpy(entries.get() + sizeof(format::packets_head) + count * sizeof e, &e, sizeof e);
        for (auto s : segs) {
            std::memcpy(frames.get() + frame_bytes, s.data(), s.size());
            frame_bytes += s.size();
        }
        count++;
        packets++;
        packet_bytes += len;
        return {};
    }
};

snapshot_writer::snapshot_writer(std::unique_ptr<impl> p) : _p(std::move(p)) {}
snapshot_writer::snapshot_writer(snapshot_writer &&) noexcept = default;
snapshot_writer &snapshot_writer::operator=(snapshot_writer &&) noexcept = default;
snapshot_writer::~snapshot_writer() = default;  // record_out's file removes an uncommitted temporary

const std::string &snapshot_writer::path() const noexcept { return _p->path; }
uint64_t snapshot_writer::bytes_written() const noexcept
{
    return _p->out ? _p->out->offset() : _p->file_bytes;
}
uint32_t snapshot_writer::content_crc() const noexcept { return _p->content_crc; }

result<snapshot_writer> snapshot_writer::create(const std::string &path, const header &hdr)
{
    auto p = std::make_unique<impl>();
    p->path = path;
    header h = hdr;
    if (h.created_realtime_ns == 0)
        h.created_realtime_ns = realtime_ns();
    if (h.host.empty())
        h.host = hostname();
    if (h.software_version.empty())
        h.software_version = STASIS_VERSION;
    auto out = record_out::start(path);
    if (!out)
        return std::unexpected(out.error());
    p->out.emplace(std::move(*out));
    p->entries = std::make_unique_for_overwrite<std::byte[]>(impl::entries_cap);
    p->frames = std::make_unique_for_overwrite<std::byte[]>(impl::frames_cap);
    if (auto ok = p->record(format::record_type::header, as_bytes(serialize(codec::to_proto(h))));
        !ok)
        return std::unexpected(ok.error());
    return snapshot_writer(std::move(p));
}

result<void> snapshot_writer::begin_link(const link_info &link)
{
    impl &p = *_p;
    if (auto ok = p.usable(); !ok)
        return ok;
    if (p.link_pipes != 2)
        return p.misuse("link '" + link.name + "' begun before link '" + p.link_name +
                        "' has both pipes");
    if (link.name.empty())
        return p.misuse("a link without a name");
    if (!p.link_names.insert(link.name).second)
        return p.misuse("link '" + link.name + "' twice");
    if (auto ok = p.flush_chunk(); !ok)
        return ok;
    p.link_name = link.name;
    p.link_pipes = 0;
    p.links++;
    return p.record(format::record_type::link, as_bytes(serialize(codec::to_proto(link))));
}

result<void> snapshot_writer::add_pipe(const pipe_record &pipe)
{
    impl &p = *_p;
    if (auto ok = p.usable(); !ok)
        return ok;
    if (p.link_pipes >= 2)
        return p.misuse(p.links == 0 ? "a pipe before any link"
                                     : "a third pipe for link '" + p.link_name + "'");
    const direction expected = p.link_pipes == 0 ? direction::a_to_b : direction::b_to_a;
    if (pipe.dir != expected)
        return p.misuse("link '" + p.link_name + "': pipe " + direction_name(pipe.dir) +
                        " where " + direction_name(expected) + " comes");
    auto m = codec::to_proto(pipe);
    if (!m)
        return p.fail({errc::invalid, p.path + ": link '" + p.link_name + "' " +
                                          direction_name(pipe.dir) + ": " + m.error() +
                                          " (the snapshot was abandoned)"});
    if (auto ok = p.flush_chunk(); !ok)
        return ok;
    p.link_pipes++;
    p.pipes++;
    return p.record(format::record_type::pipe, as_bytes(serialize(*m)));
}

result<void> snapshot_writer::add_packet(int64_t arrival_rel_ns, int64_t depart_rel_ns,
                                         std::span<const std::byte> frame)
{
    // The common case inline: one piece that fits the chunk being gathered.
    impl &p = *_p;
    const size_t len = frame.size();
    if (p.out && p.links != 0 && p.link_pipes != 0 && len - 1 < format::max_frame_bytes &&
        p.frame_bytes + len <= impl::frames_cap && p.count < impl::max_count) [[likely]] {
        const format::packet_entry e{arrival_rel_ns, depart_rel_ns, uint32_t(len), 0};
        std::memcpy(p.entries.get() + sizeof(format::packets_head) + p.count * sizeof e, &e, sizeof e);
        std::memcpy(p.frames.get() + p.frame_bytes, frame.data(), len);
        p.frame_bytes += len;
        p.count++;
        p.packets++;
        p.packet_bytes += len;
        return {};
    }
    return add_packet(arrival_rel_ns, depart_rel_ns,
                      std::span<const std::span<const std::byte>>(&frame, 1));
}

result<void> snapshot_writer::add_packet(int64_t arrival_rel_ns, int64_t depart_rel_ns,
                                         std::span<const std::span<const std::byte>> segments)
{
    impl &p = *_p;
    if (!p.out || p.links == 0 || p.link_pipes == 0) [[unlikely]] {
        if (auto ok = p.usable(); !ok)
            return ok;
        return p.misuse("a packet outside a pipe");
    }
    return p.add(arrival_rel_ns, depart_rel_ns, segments);
}

result<void> snapshot_writer::commit()
{
    impl &p = *_p;
    if (auto ok = p.usable(); !ok)
        return ok;
    if (p.link_pipes != 2)
        return p.misuse("commit before link '" + p.link_name + "' has both pipes");
    if (auto ok = p.flush_chunk(); !ok)
        return ok;
    const format::trailer t{p.out->records(), p.links,  p.pipes,           p.packets,
                            p.packet_bytes,   p.out->offset(), p.out->file_crc(), 0};
    if (auto ok = p.record(format::record_type::trailer, std::as_bytes(std::span(&t, 1))); !ok)
        return ok;
    if (auto ok = p.out->file().commit(); !ok)
        return p.fail(ok.error());
    p.file_bytes = p.out->offset();
    p.content_crc = t.file_crc;
    p.out.reset();
    p.committed = true;
    return {};
}

result<void> save_all(const std::string &path, const snapshot_data &data)
{
    auto w = snapshot_writer::create(path, data.header);
    if (!w)
        return std::unexpected(w.error());
    for (const link_data &l : data.links) {
        if (auto ok = w->begin_link(l.link); !ok)
            return ok;
        for (const pipe_data &pd : l.pipes) {
            if (auto ok = w->add_pipe(pd.pipe); !ok)
                return ok;
            for (const packet &pk : pd.packets)
                if (auto ok = w->add_packet(pk.arrival_rel_ns, pk.depart_rel_ns, pk.frame); !ok)
                    return ok;
        }
    }
    return w->commit();
}

}  // namespace stasis::snapshot
