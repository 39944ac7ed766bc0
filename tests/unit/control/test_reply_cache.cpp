// The retry cache: bounded per peer and over peers, least recently active peer forgotten first.
#include <gtest/gtest.h>

#include "stasis/control/reply_cache.hpp"

namespace stasis::control {
namespace {

TEST(reply_cache, finds_what_was_inserted_per_peer)
{
    reply_cache cache(4, 4);
    cache.insert("alice", 1, "a1");
    cache.insert("bob", 1, "b1");
    ASSERT_NE(cache.find("alice", 1), nullptr);
    EXPECT_EQ(*cache.find("alice", 1), "a1");
    EXPECT_EQ(*cache.find("bob", 1), "b1");
    EXPECT_EQ(cache.find("alice", 2), nullptr);
    EXPECT_EQ(cache.find("carol", 1), nullptr);
    EXPECT_EQ(cache.peer_count(), 2u);  // a miss on an unknown peer does not create it
}

TEST(reply_cache, forgets_the_oldest_reply_of_a_peer)
{
    reply_cache cache(3, 4);
    for (uint64_t id = 1; id <= 5; ++id)
        cache.insert("alice", id, std::to_string(id));
    EXPECT_EQ(cache.reply_count("alice"), 3u);
    EXPECT_EQ(cache.find("alice", 1), nullptr);
    EXPECT_EQ(cache.find("alice", 2), nullptr);
    ASSERT_NE(cache.find("alice", 3), nullptr);
    EXPECT_EQ(*cache.find("alice", 5), "5");
}

TEST(reply_cache, reinserting_an_id_does_not_grow_the_peer)
{
    reply_cache cache(2, 4);
    cache.insert("alice", 1, "x");
    cache.insert("alice", 1, "y");
    cache.insert("alice", 2, "z");
    EXPECT_EQ(cache.reply_count("alice"), 2u);
    EXPECT_EQ(*cache.find("alice", 1), "y");
}

TEST(reply_cache, forgets_the_least_recently_active_peer)
{
    reply_cache cache(4, 2);
    cache.insert("alice", 1, "a");
    cache.insert("bob", 1, "b");
    ASSERT_NE(cache.find("alice", 1), nullptr);  // alice is now the most recent
    cache.insert("carol", 1, "c");              // evicts bob
    EXPECT_EQ(cache.peer_count(), 2u);
    EXPECT_NE(cache.find("alice", 1), nullptr);
    EXPECT_EQ(cache.find("bob", 1), nullptr);
    EXPECT_NE(cache.find("carol", 1), nullptr);
}

TEST(reply_cache, a_byte_budget_forgets_the_least_recently_active_peer_first)
{
    reply_cache cache(8, 8, 100);
    cache.insert("alice", 1, std::string(40, 'a'));
    cache.insert("bob", 1, std::string(40, 'b'));
    EXPECT_EQ(cache.bytes(), 80u);
    cache.insert("carol", 1, std::string(40, 'c'));  // 120 > 100: alice goes
    EXPECT_EQ(cache.bytes(), 80u);
    EXPECT_EQ(cache.find("alice", 1), nullptr);
    EXPECT_EQ(cache.peer_count(), 2u);
    EXPECT_NE(cache.find("bob", 1), nullptr);
    EXPECT_NE(cache.find("carol", 1), nullptr);
}

TEST(reply_cache, a_reply_bigger_than_the_budget_is_kept_alone)
{
    reply_cache cache(8, 8, 100);
    cache.insert("alice", 1, std::string(40, 'a'));
    cache.insert("bob", 1, std::string(500, 'b'));
    EXPECT_EQ(cache.find("alice", 1), nullptr);
    ASSERT_NE(cache.find("bob", 1), nullptr) << "the reply just sent must answer its retry";
    EXPECT_EQ(cache.bytes(), 500u);
    cache.insert("bob", 2, "x");  // the big one is now the oldest and goes
    EXPECT_EQ(cache.find("bob", 1), nullptr);
    EXPECT_EQ(cache.bytes(), 1u);
}

TEST(reply_cache, bytes_follow_evictions_and_replacements)
{
    reply_cache cache(2, 1);
    cache.insert("alice", 1, "aaaa");
    cache.insert("alice", 1, "aa");  // replaced
    EXPECT_EQ(cache.bytes(), 2u);
    cache.insert("alice", 2, "bbb");
    cache.insert("alice", 3, "c");  // forgets id 1
    EXPECT_EQ(cache.bytes(), 4u);
    cache.insert("bob", 1, "dddddd");  // only one peer: alice goes
    EXPECT_EQ(cache.bytes(), 6u);
}

TEST(reply_cache, binary_peer_ids_are_distinct)
{
    reply_cache cache(4, 4);
    cache.insert(std::string_view("\0a", 2), 1, "zero-a");
    cache.insert(std::string_view("\0b", 2), 1, "zero-b");
    EXPECT_EQ(*cache.find(std::string_view("\0a", 2), 1), "zero-a");
    EXPECT_EQ(*cache.find(std::string_view("\0b", 2), 1), "zero-b");
}

}  // namespace
}  // namespace stasis::control
