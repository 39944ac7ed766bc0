// pcapng writer for the frozen packets: section header, one interface description per pipe, one
// enhanced packet block per packet (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
#include "stasis/snapshot/pcapng.hpp"

#include <cstring>
#include <optional>
#include <vector>

#include "atomic_file.hpp"
#include "stasis/snapshot/format.hpp"

namespace stasis::snapshot {
namespace {

constexpr uint32_t block_shb = 0x0a0d0d0a, block_idb = 1, block_epb = 6;
constexpr uint16_t opt_end = 0, opt_comment = 1, shb_userappl = 4, if_name = 2, if_description = 3,
                   if_tsresol = 9;
constexpr uint16_t linktype_ethernet = 1;

size_t pad4(size_t n) { return (n + 3) & ~size_t(3); }

// One block at a time into a buffer that is written out in large pieces.
class block_buffer {
public:
    explicit block_buffer(atomic_file &f) : _file(f)
    {
        _buf.reserve(flush_at + 2 * format::max_frame_bytes);
    }

    void u16(uint16_t v) { raw(&v, 2); }
    void u32(uint32_t v) { raw(&v, 4); }
    void u64(uint64_t v) { raw(&v, 8); }
    void raw(const void *p, size_t n)
    {
        const auto *b = static_cast<const std::byte *>(p);
        _buf.insert(_buf.end(), b, b + n);
    }
    void pad() { _buf.resize(pad4(_buf.size()), std::byte{0}); }
    void option(uint16_t code, const void *value, size_t n)
    {
        u16(code);
        u16(uint16_t(n));
        raw(value, n);
        pad();
    }
    void option(uint16_t code, const std::string &s) { option(code, s.data(), s.size()); }

    // Block framing: begin() reserves type and length; end() writes the trailing length.
    void begin(uint32_t type)
    {
        _start = _buf.size();
        u32(type);
        u32(0);
    }
    void end()
    {
        const uint32_t len = uint32_t(_buf.size() - _start + 4);
        std::memcpy(_buf.data() + _start + 4, &len, 4);
        u32(len);
    }

    result<void> flush(bool force = false)
    {
        if (_buf.empty() || (!force && _buf.size() < flush_at))
            return {};
        const iovec part{_buf.data(), _buf.size()};
        auto ok = _file.write({&part, 1});
        _buf.clear();
        return ok;
    }

private:
    static constexpr size_t flush_at = 1 << 20;
    atomic_file &_file;
    std::vector<std::byte> _buf;
    size_t _start = 0;
};

std::string endpoint_text(const dataplane::endpoint &e)
{
    return e.vlan ? e.port + "." + std::to_string(*e.vlan) : e.port;
}

}  // namespace

result<export_stats> export_pcapng(const snapshot_reader &reader, const std::string &out_path)
{
    auto file = atomic_file::create(out_path);
    if (!file)
        return std::unexpected(file.error());
    block_buffer out(*file);
    export_stats stats;

    out.begin(block_shb);
    out.u32(0x1a2b3c4d);
    out.u16(1);
    out.u16(0);
    out.u64(~uint64_t(0));  // section length: not given
    out.option(shb_userappl, std::string("stasis snapshot export ") + STASIS_VERSION);
    out.option(opt_comment, "packets in flight in " + reader.path() + " at the freeze instant " +
                                std::to_string(reader.header().freeze_realtime_ns) +
                                " ns (CLOCK_REALTIME), stamped with their arrival times");
    out.option(opt_end, nullptr, 0);
    out.end();

    for (const link_summary &l : reader.links()) {
        for (direction d : {direction::a_to_b, direction::b_to_a}) {
            const bool ab = d == direction::a_to_b;
            out.begin(block_idb);
            out.u16(linktype_ethernet);
            out.u16(0);
            out.u32(format::max_frame_bytes);  // snaplen
            out.option(if_name, l.link.name + "/" + direction_name(d));
            out.option(if_description, "link '" + l.link.name + "' " +
                                           endpoint_text(ab ? l.link.a : l.link.b) + " -> " +
                                           endpoint_text(ab ? l.link.b : l.link.a));
            const uint8_t ns = 9;
            out.option(if_tsresol, &ns, 1);
            out.option(opt_end, nullptr, 0);
            out.end();
            stats.interfaces++;
        }
    }

    const int64_t freeze = reader.header().freeze_realtime_ns;
    std::optional<error> failed;
    auto ok = reader.for_each_packet([&](const packet_ref &p) {
        const int64_t ts = freeze + p.arrival_rel_ns;
        if (ts < 0) {
            failed = error{errc::invalid, reader.path() + ": link '" + reader.links()[p.link].link.name +
                                              "': an arrival before 1970 cannot be stamped in pcapng"};
            return false;
        }
        out.begin(block_epb);
        out.u32(p.link * 2 + uint32_t(p.dir));
        out.u32(uint32_t(uint64_t(ts) >> 32));
        out.u32(uint32_t(uint64_t(ts)));
        out.u32(uint32_t(p.frame.size()));
        out.u32(uint32_t(p.frame.size()));
        out.raw(p.frame.data(), p.frame.size());
        out.pad();
        out.end();
        stats.packets++;
        stats.bytes += p.frame.size();
        if (auto w = out.flush(); !w) {
            failed = w.error();
            return false;
        }
        return true;
    });
    if (failed)
        return std::unexpected(*failed);
    if (!ok)
        return std::unexpected(ok.error());
    if (auto w = out.flush(true); !w)
        return std::unexpected(w.error());
    if (auto c = file->commit(); !c)
        return std::unexpected(c.error());
    return stats;
}

}  // namespace stasis::snapshot
