// snapshot_reader: one walk over the records checks the structure and sums up the pipes (open) or
// hands out the packets (for_each_packet); load_all() joins the two.
#include "stasis/snapshot/reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "atomic_file.hpp"
#include "codec.hpp"
#include "record_in.hpp"

namespace stasis::snapshot {

namespace {

using format::record_type;

// The walk's memory: where we are in the order header, (link, pipe, packets*, pipe, packets*)*,
// trailer, and the summary open() keeps.
struct walk_state {
    snapshot::header header;
    std::vector<link_summary> links;
    uint64_t pipes = 0, packets = 0, bytes = 0;
    unsigned link_pipes = 2;  // of the current link
    std::set<std::string> names;
};

template <class Message>
result<Message> parse(const record_in &in, const record_view &r)
{
    Message m;
    if (!m.ParseFromArray(r.payload.data(), int(r.payload.size())))
        return std::unexpected(in.at(r, errc::corrupted, "not a valid protobuf message"));
    return m;
}

// Checks a packets record's layout, then calls fn(entry, frame) for each packet.
template <class Fn>
result<void> each_packet(const record_in &in, const record_view &r, Fn &&fn)
{
    const std::span<const std::byte> p = r.payload;
    format::packets_head head;
    if (p.size() < sizeof head)
        return std::unexpected(in.at(r, errc::invalid, "shorter than its 8-byte head"));
    std::memcpy(&head, p.data(), sizeof head);
    if (head.flags != 0)
        return std::unexpected(in.at(r, errc::invalid, "flags " + std::to_string(head.flags)));
    const size_t room = (p.size() - sizeof head) / sizeof(format::packet_entry);
    if (head.count == 0 || head.count > room)
        return std::unexpected(in.at(r, errc::invalid, std::to_string(head.count) + " packets"));
    const size_t entries = sizeof head + size_t(head.count) * sizeof(format::packet_entry);
    size_t frame_at = entries;
    for (uint32_t i = 0; i < head.count; i++) {
        format::packet_entry e;
        std::memcpy(&e, p.data() + sizeof head + i * sizeof e, sizeof e);
        if (e.len == 0 || e.len > format::max_frame_bytes || e.reserved != 0 ||
            e.len > p.size() - frame_at)
            return std::unexpected(in.at(r, errc::invalid, "packet " + std::to_string(i) + " of " +
                                                               std::to_string(e.len) + " bytes"));
        if (!fn(e, p.subspan(frame_at, e.len)))
            return std::unexpected(error{errc::stopped, in.at(r, errc::stopped, "").message +
                                                            "stopped by the caller"});
        frame_at += e.len;
    }
    if (frame_at != p.size())
        return std::unexpected(in.at(r, errc::invalid, std::to_string(p.size() - frame_at) +
                                                           " bytes after the last frame"));
    return {};
}

result<void> on_link(const record_in &in, const record_view &r, walk_state &w)
{
    if (w.link_pipes != 2)
        return std::unexpected(in.at(r, errc::invalid, "link '" + w.links.back().link.name +
                                                           "' ends without its b_to_a pipe"));
    auto m = parse<Link>(in, r);
    if (!m)
        return std::unexpected(m.error());
    auto link = codec::from_proto(*m);
    if (!link)
        return std::unexpected(in.at(r, errc::invalid, link.error()));
    if (!w.names.insert(link->name).second)
        return std::unexpected(in.at(r, errc::invalid, "link '" + link->name + "' twice"));
    w.links.push_back({std::move(*link), {}});
    w.link_pipes = 0;
    return {};
}

result<void> on_pipe(const record_in &in, const record_view &r, walk_state &w)
{
    if (w.link_pipes >= 2)
        return std::unexpected(in.at(r, errc::invalid, "a pipe outside a link"));
    auto m = parse<Pipe>(in, r);
    if (!m)
        return std::unexpected(m.error());
    auto pipe = codec::from_proto(*m);
    link_summary &l = w.links.back();
    if (!pipe)
        return std::unexpected(in.at(r, errc::invalid, "link '" + l.link.name + "': " + pipe.error()));
    const direction expected = w.link_pipes == 0 ? direction::a_to_b : direction::b_to_a;
    if (pipe->dir != expected)
        return std::unexpected(in.at(r, errc::invalid, "link '" + l.link.name + "': pipe " +
                                                           direction_name(pipe->dir) + " where " +
                                                           direction_name(expected) + " comes"));
    // The header's configuration went through text, which keeps Gilbert-Elliott parameters only for
    // that loss model: the pipe record's exact parameters stand for the link's.
    for (dataplane::link_config &lc : w.header.config.links)
        if (lc.name == l.link.name)
            (expected == direction::a_to_b ? lc.a_to_b : lc.b_to_a) = pipe->params;
    l.pipes[w.link_pipes++].pipe = std::move(*pipe);
    w.pipes++;
    return {};
}

result<void> on_trailer(const record_in &in, const record_view &r, const walk_state &w)
{
    if (w.link_pipes != 2)
        return std::unexpected(in.at(r, errc::invalid, "link '" + w.links.back().link.name +
                                                           "' ends without its b_to_a pipe"));
    format::trailer t;
    std::memcpy(&t, r.payload.data(), sizeof t);  // size checked by record_in
    if (t.links != w.links.size() || t.pipes != w.pipes || t.packets != w.packets ||
        t.packet_bytes != w.bytes)
        return std::unexpected(in.at(r, errc::corrupted,
                                     "the trailer counts " + std::to_string(t.links) + " links, " +
                                         std::to_string(t.packets) + " packets, " +
                                         std::to_string(t.packet_bytes) + " bytes; the file has " +
                                         std::to_string(w.links.size()) + ", " +
                                         std::to_string(w.packets) + ", " + std::to_string(w.bytes)));
    return {};
}

// The whole walk. `fn`, when given, gets every packet; the summary is built either way.
result<void> walk(int fd, const std::string &path, walk_state &w, file_summary *file,
                  const std::function<bool(const packet_ref &)> *fn)
{
    auto in = record_in::start(fd, path);
    if (!in)
        return std::unexpected(in.error());
    for (;;) {
        auto next = in->next();
        if (!next)
            return std::unexpected(next.error());
        if (!*next)
            break;
        const record_view &r = **next;
        const auto type = record_type(r.type);
        if ((r.index == 0) != (type == record_type::header))
            return std::unexpected(in->at(r, errc::invalid,
                                          r.index == 0 ? "the first record is not the header"
                                                       : "a second header"));
        result<void> ok;
        switch (type) {
        case record_type::header: {
            auto m = parse<Header>(*in, r);
            if (!m)
                return std::unexpected(m.error());
            auto h = codec::from_proto(*m);
            if (!h)
                return std::unexpected(in->at(r, errc::invalid, h.error()));
            w.header = std::move(*h);
            break;
        }
        case record_type::link: ok = on_link(*in, r, w); break;
        case record_type::pipe: ok = on_pipe(*in, r, w); break;
        case record_type::trailer: ok = on_trailer(*in, r, w); break;
        case record_type::packets: {
            if (w.link_pipes == 0 || w.links.empty())
                return std::unexpected(in->at(r, errc::invalid, "packets outside a pipe"));
            const uint32_t link = uint32_t(w.links.size() - 1);
            const direction dir = w.link_pipes == 1 ? direction::a_to_b : direction::b_to_a;
            pipe_summary &s = w.links.back().pipes[w.link_pipes - 1];
            using frame_bytes = std::span<const std::byte>;
            ok = each_packet(*in, r, [&](const format::packet_entry &e, frame_bytes frame) {
                if (s.packets == 0) {
                    s.oldest_depart_rel_ns = s.newest_depart_rel_ns = e.depart_rel_ns;
                    s.oldest_arrival_rel_ns = s.newest_arrival_rel_ns = e.arrival_rel_ns;
                } else {
                    s.oldest_depart_rel_ns = std::min(s.oldest_depart_rel_ns, e.depart_rel_ns);
                    s.newest_depart_rel_ns = std::max(s.newest_depart_rel_ns, e.depart_rel_ns);
                    s.oldest_arrival_rel_ns = std::min(s.oldest_arrival_rel_ns, e.arrival_rel_ns);
                    s.newest_arrival_rel_ns = std::max(s.newest_arrival_rel_ns, e.arrival_rel_ns);
                }
                s.packets++;
                s.bytes += e.len;
                w.packets++;
                w.bytes += e.len;
                return !fn || (*fn)(packet_ref{link, dir, e.arrival_rel_ns, e.depart_rel_ns, frame});
            });
            break;
        }
        }
        if (!ok)
            return ok;
    }
    if (file)
        *file = {format::version, in->file_bytes(), in->records(), w.packets, w.bytes};
    return {};
}

}  // namespace

struct snapshot_reader::impl {
    std::string path;
    int fd = -1;
    walk_state state;
    file_summary file;

    ~impl()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

snapshot_reader::snapshot_reader(std::unique_ptr<impl> p) : _p(std::move(p)) {}
snapshot_reader::snapshot_reader(snapshot_reader &&) noexcept = default;
snapshot_reader &snapshot_reader::operator=(snapshot_reader &&) noexcept = default;
snapshot_reader::~snapshot_reader() = default;

result<snapshot_reader> snapshot_reader::open(const std::string &path)
{
    auto p = std::make_unique<impl>();
    p->path = path;
    p->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (p->fd < 0)
        return std::unexpected(system_error(path, "cannot open", errno));
    ::posix_fadvise(p->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (auto ok = walk(p->fd, path, p->state, &p->file, nullptr); !ok)
        return std::unexpected(ok.error());
    return snapshot_reader(std::move(p));
}

const std::string &snapshot_reader::path() const noexcept { return _p->path; }
const header &snapshot_reader::header() const noexcept { return _p->state.header; }
const std::vector<link_summary> &snapshot_reader::links() const noexcept { return _p->state.links; }
const file_summary &snapshot_reader::file() const noexcept { return _p->file; }

result<void> snapshot_reader::for_each_packet(const std::function<bool(const packet_ref &)> &fn) const
{
    walk_state again;  // the file is checked again as it is read
    return walk(_p->fd, _p->path, again, nullptr, &fn);
}

result<snapshot_data> snapshot_reader::load_all() const
{
    snapshot_data data;
    data.header = _p->state.header;
    for (const link_summary &l : _p->state.links) {
        link_data &ld = data.links.emplace_back();
        ld.link = l.link;
        for (size_t d = 0; d < 2; d++) {
            ld.pipes[d].pipe = l.pipes[d].pipe;
            ld.pipes[d].packets.reserve(l.pipes[d].packets);
        }
    }
    auto ok = for_each_packet([&](const packet_ref &p) {
        data.links[p.link].pipes[size_t(p.dir)].packets.push_back(
            {p.arrival_rel_ns, p.depart_rel_ns, {p.frame.begin(), p.frame.end()}});
        return true;
    });
    if (!ok)
        return std::unexpected(ok.error());
    return data;
}

}  // namespace stasis::snapshot
