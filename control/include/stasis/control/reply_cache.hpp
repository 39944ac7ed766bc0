// Replies already sent, per peer, so that a retried request is answered again and never run twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stasis::control {

// Bounded three ways: the last `per_peer` replies of each peer (oldest forgotten first), the `peers`
// most recently active peers, and `max_bytes` of replies in all (both forget from the least recently
// active peer first). A peer is its routing id.
class reply_cache {
public:
    reply_cache(size_t per_peer, size_t peers, size_t max_bytes = SIZE_MAX);

    // The serialized reply to (peer, request_id), or nullptr. A hit makes the peer most recent.
    const std::string *find(std::string_view peer, uint64_t request_id);
    void insert(std::string_view peer, uint64_t request_id, std::string reply);

    size_t peer_count() const { return _peers.size(); }
    size_t bytes() const { return _bytes; }
    size_t reply_count(std::string_view peer) const;

private:
    struct peer_entry {
        std::string id;
        std::unordered_map<uint64_t, std::string> replies;
        std::deque<uint64_t> order;  // insertion order, oldest first
    };
    using peer_list = std::list<peer_entry>;  // most recently active first

    peer_list::iterator touch(std::string_view peer, bool create);
    void forget_oldest(peer_entry &p);
    void drop_peer(peer_list::iterator p);

    size_t _per_peer;
    size_t _max_peers;
    size_t _max_bytes;
    size_t _bytes = 0;
    peer_list _peers;
    std::unordered_map<std::string_view, peer_list::iterator> _index;  // views into peer_entry::id
};

}  // namespace stasis::control
