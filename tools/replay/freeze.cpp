// Freeze and resume through a byte image: the model and the held packets survive only as bytes.
#include "freeze.hpp"

#include <cstring>
#include <string>

#include "stasis/replay/pcap.hpp"

namespace stasis::replay {

namespace {

// A new field in pipe_state must be added to the image (and this size updated).
static_assert(sizeof(dataplane::pipe_state) == 112, "pipe_state changed: update encode/decode_frozen");

constexpr char magic[8] = {'S', 'T', 'R', 'P', 'L', 'F', 'Z', '1'};

class writer {
public:
    std::vector<uint8_t> out;
    void u64(uint64_t v)
    {
        for (int i = 0; i < 8; i++)
            out.push_back(uint8_t(v >> (8 * i)));
    }
    void i64(int64_t v) { u64(uint64_t(v)); }
    void raw(std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }
};

class reader {
public:
    explicit reader(std::span<const uint8_t> in) : _in(in) {}
    uint64_t u64()
    {
        need(8);
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v |= uint64_t(_in[_at + i]) << (8 * i);
        _at += 8;
        return v;
    }
    int64_t i64() { return int64_t(u64()); }
    std::span<const uint8_t> raw(uint64_t n)
    {
        need(n);
        auto s = _in.subspan(_at, n);
        _at += n;
        return s;
    }
    bool done() const { return _at == _in.size(); }

private:
    void need(uint64_t n) const
    {
        if (n > _in.size() - _at)
            throw replay_error("checkpoint image truncated at byte " + std::to_string(_at));
    }
    std::span<const uint8_t> _in;
    size_t _at = 0;
};

}  // namespace

std::vector<uint8_t> encode_frozen(const dataplane::pipe_state &s, const std::deque<held_packet> &held)
{
    writer w;
    w.raw({reinterpret_cast<const uint8_t *>(magic), sizeof magic});
    for (uint64_t r : s.rng)
        w.u64(r);
    w.u64(s.ge_bad);
    w.u64(s.red_avg_q32);
    w.i64(s.red_count);
    w.i64(s.server_end_ns);
    w.u64(s.server_rem);
    w.i64(s.last_arrival_ns);
    w.i64(s.last_depart_ns);
    w.u64(s.queue.size());
    for (const auto &q : s.queue) {
        w.i64(q.service_end_ns);
        w.u64(q.len_bytes);
    }
    w.u64(held.size());
    for (const held_packet &h : held) {
        w.i64(h.depart_ns);
        w.i64(h.arrival_ns);
        w.u64(h.number);
        w.u64(h.len);
        w.u64(h.bytes.size());
        w.raw(h.bytes);
    }
    return std::move(w.out);
}

void decode_frozen(std::span<const uint8_t> image, dataplane::pipe_state &s, std::deque<held_packet> &held)
{
    reader r(image);
    if (std::memcmp(r.raw(sizeof magic).data(), magic, sizeof magic) != 0)
        throw replay_error("checkpoint image: bad magic");
    s = {};
    for (uint64_t &x : s.rng)
        x = r.u64();
    s.ge_bad = r.u64() != 0;
    s.red_avg_q32 = r.u64();
    s.red_count = r.i64();
    s.server_end_ns = r.i64();
    s.server_rem = r.u64();
    s.last_arrival_ns = r.i64();
    s.last_depart_ns = r.i64();
    for (uint64_t n = r.u64(); n > 0; n--) {
        const int64_t end = r.i64();
        s.queue.push_back({end, uint32_t(r.u64())});
    }
    held.clear();
    for (uint64_t n = r.u64(); n > 0; n--) {
        held_packet h{};
        h.depart_ns = r.i64();
        h.arrival_ns = r.i64();
        h.number = r.u64();
        h.len = uint32_t(r.u64());
        const auto b = r.raw(r.u64());
        h.bytes.assign(b.begin(), b.end());
        held.push_back(std::move(h));
    }
    if (!r.done())
        throw replay_error("checkpoint image: trailing bytes");
}

size_t freeze_and_resume(dataplane::pipe_model &model, std::deque<held_packet> &held,
                         const dataplane::pipe_params &params, int64_t pause_ns)
{
    const std::vector<uint8_t> image = encode_frozen(model.save(), held);
    // Nothing of the running link survives but the image.
    model = dataplane::pipe_model(params);
    held.clear();

    dataplane::pipe_state state;
    decode_frozen(image, state, held);
    model = dataplane::pipe_model::restore(params, state);
    model.shift(pause_ns);
    for (held_packet &h : held)
        h.depart_ns += pause_ns;
    return image.size();
}

}  // namespace stasis::replay
