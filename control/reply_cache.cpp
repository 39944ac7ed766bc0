// Bounded per-peer reply cache for idempotent retries.
#include "stasis/control/reply_cache.hpp"

#include <algorithm>
#include <iterator>

namespace stasis::control {

reply_cache::reply_cache(size_t per_peer, size_t peers, size_t max_bytes)
    : _per_peer(std::max<size_t>(per_peer, 1)), _max_peers(std::max<size_t>(peers, 1)), _max_bytes(max_bytes)
{
}

void reply_cache::forget_oldest(peer_entry &p)
{
    auto it = p.replies.find(p.order.front());
    _bytes -= it->second.size();
    p.replies.erase(it);
    p.order.pop_front();
}

void reply_cache::drop_peer(peer_list::iterator p)
{
    for (const auto &[id, reply] : p->replies)
        _bytes -= reply.size();
    _index.erase(p->id);
    _peers.erase(p);
}

reply_cache::peer_list::iterator reply_cache::touch(std::string_view peer, bool create)
{
    if (auto it = _index.find(peer); it != _index.end()) {
        _peers.splice(_peers.begin(), _peers, it->second);  // list iterators stay valid
        return it->second;
    }
    if (!create)
        return _peers.end();
    if (_peers.size() == _max_peers)
        drop_peer(std::prev(_peers.end()));
    _peers.push_front(peer_entry{std::string(peer), {}, {}});
    _index.emplace(_peers.front().id, _peers.begin());
    return _peers.begin();
}

const std::string *reply_cache::find(std::string_view peer, uint64_t request_id)
{
    auto p = touch(peer, false);
    if (p == _peers.end())
        return nullptr;
    auto r = p->replies.find(request_id);
    return r == p->replies.end() ? nullptr : &r->second;
}

void reply_cache::insert(std::string_view peer, uint64_t request_id, std::string reply)
{
    auto p = touch(peer, true);
    _bytes += reply.size();
    auto [it, fresh] = p->replies.try_emplace(request_id);
    _bytes -= it->second.size();
    it->second = std::move(reply);
    if (fresh)
        p->order.push_back(request_id);
    if (p->order.size() > _per_peer)
        forget_oldest(*p);
    // Over budget: forget from the least recently active peer, but keep the reply just stored.
    while (_bytes > _max_bytes) {
        auto victim = std::prev(_peers.end());
        if (victim == p && p->order.size() <= 1)
            break;
        forget_oldest(*victim);
        if (victim->order.empty())
            drop_peer(victim);
    }
}

size_t reply_cache::reply_count(std::string_view peer) const
{
    auto it = _index.find(peer);
    return it == _index.end() ? 0 : it->second->replies.size();
}

}  // namespace stasis::control
