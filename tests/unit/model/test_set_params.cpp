// Parameter changes mid-trace, storage growth through a spare, and the rings' capacities.
#include <gtest/gtest.h>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

TEST(SetParams, AdmittedKeepTheirPlaceNewOnesUseNewParams)
{
    pipe_model m(rated(12'000'000, 10 * ms, 50));
    for (int k = 0; k < 40; k++)
        ASSERT_EQ(m.arrive(0, 1500).depart_ns, (k + 1) * ms + 10 * ms);
    // faster, shorter delay, much smaller queue
    ASSERT_TRUE(m.set_params(rated(24'000'000, 1 * ms, 10), 500 * us));
    // the 40 admitted stay queued: nothing dropped, occupancy drains at the old pace
    EXPECT_EQ(m.occupancy_at(500 * us).packets, 40u);
    EXPECT_EQ(m.occupancy_at(30 * ms).packets, 10u);
    EXPECT_EQ(m.arrive(500 * us, 1500).drop, drop_reason::queue);  // 40 >= 10
    EXPECT_EQ(m.arrive(30 * ms, 1500).drop, drop_reason::queue);   // 10 >= 10
    // 9 queued at 31 ms: served after the old ones at the new rate (0.5 ms), FIFO behind 50 ms
    EXPECT_EQ(m.arrive(31 * ms, 1500).depart_ns, 50 * ms);
    EXPECT_EQ(m.save().server_end_ns, 40 * ms + 500 * us);
    // once the old packets are gone, the new delay applies exactly
    EXPECT_EQ(m.arrive(100 * ms, 1500).depart_ns, 100 * ms + 500 * us + 1 * ms);
}

TEST(SetParams, RateChangeDropsTheSubNanosecondRemainder)
{
    pipe_model m(rated(7'000'000, 0, 50));
    m.arrive(0, 1);  // ends at 8000/7 = 1142.857 ns
    ASSERT_NE(m.save().server_rem, 0u);
    pipe_model same = pipe_model::restore(m.params(), m.save());
    ASSERT_TRUE(m.set_params(rated(8'000'000, 0, 50), 0));
    EXPECT_EQ(m.save().server_rem, 0u);
    EXPECT_EQ(m.arrive(0, 1).depart_ns, 1142 + 1000);  // starts at the floor
    ASSERT_TRUE(same.set_params(rated(7'000'000, 5, 50), 0));  // same rate: remainder kept
    EXPECT_NE(same.save().server_rem, 0u);
    EXPECT_EQ(same.arrive(0, 1).depart_ns, 2285 + 5);
}

TEST(SetParams, LargerQueueNeedsASpare)
{
    pipe_model m(rated(12'000'000, 0, 50));
    for (int k = 0; k < 50; k++)
        m.arrive(0, 1500);
    const pipe_params big = rated(12'000'000, 0, 1000);
    EXPECT_FALSE(m.set_params(big, 0));  // 1024 slots needed, 64 owned
    queue_storage small(512);
    EXPECT_FALSE(m.set_params(big, 0, &small));
    EXPECT_EQ(m.params(), rated(12'000'000, 0, 50));  // unchanged
    EXPECT_EQ(m.arrive(0, 1500).drop, drop_reason::queue);

    queue_storage spare(pipe_model::queue_capacity_for(big));
    ASSERT_TRUE(m.set_params(big, 0, &spare));
    EXPECT_EQ(spare.capacity(), 64u);  // the old storage, for the caller to free
    EXPECT_EQ(m.occupancy_at(0).packets, 50u);
    for (int k = 50; k < 1000; k++)
        ASSERT_EQ(m.arrive(0, 1500).depart_ns, (k + 1) * ms) << k;
    EXPECT_EQ(m.arrive(0, 1500).drop, drop_reason::queue);
}

TEST(SetParams, GrowingKeepsTheQueueOrderAcrossTheRingWrap)
{
    pipe_model m(rated(12'000'000, 0, 60));
    for (int k = 0; k < 50; k++)  // head moves to 40 after the pops below: the queue wraps
        m.arrive(0, 1500);
    for (int k = 0; k < 40; k++)
        m.arrive(40 * ms, 1500);
    ASSERT_EQ(m.occupancy_at(40 * ms).packets, 50u);
    const pipe_params big = rated(12'000'000, 0, 200);
    queue_storage spare(pipe_model::queue_capacity_for(big));
    ASSERT_TRUE(m.set_params(big, 40 * ms, &spare));
    const pipe_state s = m.save();
    ASSERT_EQ(s.queue.size(), 50u);
    for (size_t i = 0; i < s.queue.size(); i++)
        EXPECT_EQ(s.queue[i].service_end_ns, int64_t(41 + i) * ms);
}

TEST(SetParams, SwitchingLossAndAqmKeepsTheRngStream)
{
    pipe_params p = rated(0);
    p.seed = 3;
    pipe_model m(p), fresh(p);
    const auto rng = m.save().rng;
    p.loss = loss_kind::bernoulli;
    p.plr = 0.5;
    p.seed = 99;  // read at construction only
    ASSERT_TRUE(m.set_params(p, 0));
    EXPECT_EQ(m.save().rng, rng);
    m.arrive(0, 100);
    EXPECT_NE(m.save().rng, rng);  // one draw for Bernoulli
}

TEST(Capacity, QueueRing)
{
    pipe_params p;
    p.queue_slots = 50;
    EXPECT_EQ(pipe_model::queue_capacity_for(p), 64u);
    p.queue_slots = 1000;
    EXPECT_EQ(pipe_model::queue_capacity_for(p), 1024u);
    p.queue_slots = 1024;
    EXPECT_EQ(pipe_model::queue_capacity_for(p), 1024u);
    p.queue_bytes = 1'000'000;  // 71429 bare 14-byte headers
    EXPECT_EQ(pipe_model::queue_capacity_for(p), 131072u);
    p.queue_bytes = uint64_t(1) << 40;
    EXPECT_EQ(pipe_model::queue_capacity_for(p), size_t(1) << 20);
    EXPECT_EQ(queue_storage(100).capacity(), 128u);
}

TEST(Capacity, DepartureFifo)
{
    pipe_params p;  // 50 slots, no delay, unlimited
    EXPECT_EQ(fifo_capacity_for(p), 64u);
    p.fifo_slots = 100;
    EXPECT_EQ(fifo_capacity_for(p), 128u);
    p.fifo_slots = 10;
    EXPECT_EQ(fifo_capacity_for(p), 64u);
    p.fifo_slots = 1u << 22;  // explicit: not capped
    EXPECT_EQ(fifo_capacity_for(p), 1u << 22);
    p.fifo_slots = 0;
    p.rate_bps = 1'000'000'000;
    p.delay_ns = 100 * ms;  // 100 ms of 60 B frames at 1 Gbit/s: 208334 + 50 queued
    EXPECT_EQ(fifo_capacity_for(p), 262144u);
    p.delay_ns = 10 * ms;  // 20834 + 50
    EXPECT_EQ(fifo_capacity_for(p), 32768u);
    p.jitter_ns = 10 * ms;  // up to 4 jitters more: 104167 + 50
    EXPECT_EQ(fifo_capacity_for(p), 131072u);
    p.rate_bps = 0;  // 10 Gbit/s of 64 B frames for 50 ms: 976563 + 50
    EXPECT_EQ(fifo_capacity_for(p), 1u << 20);
    p.delay_ns = 10'000 * ms;
    EXPECT_EQ(fifo_capacity_for(p), 1u << 20);  // capped
}

}  // namespace
}  // namespace stasis::dataplane::test
