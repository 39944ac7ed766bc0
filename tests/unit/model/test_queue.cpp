// Queue limits in slots and bytes, decided on the occupancy at the arrival instant.
#include <gtest/gtest.h>

#include "trace.hpp"

namespace stasis::dataplane::test {
namespace {

TEST(Queue, SlotLimit)
{
    pipe_model m(rated(12'000'000, 0, 50));  // 1 ms per 1500 B
    for (int k = 0; k < 50; k++)
        ASSERT_EQ(m.arrive(0, 1500).drop, drop_reason::none) << k;
    EXPECT_EQ(m.arrive(0, 1500).drop, drop_reason::queue);  // the 51st
    EXPECT_EQ(m.arrive(0, 64).drop, drop_reason::queue);
    EXPECT_EQ(m.arrive(1 * ms - 1, 1500).drop, drop_reason::queue);  // the first is still on the wire
    const verdict v = m.arrive(1 * ms, 1500);                        // its serialization ended: room
    EXPECT_EQ(v.drop, drop_reason::none);
    EXPECT_EQ(v.depart_ns, 51 * ms);
    EXPECT_EQ(m.arrive(1 * ms, 1500).drop, drop_reason::queue);
    EXPECT_EQ(m.arrive(3 * ms, 1500).drop, drop_reason::none);  // two more left by 3 ms
    EXPECT_EQ(m.arrive(3 * ms, 1500).drop, drop_reason::none);
    EXPECT_EQ(m.arrive(3 * ms, 1500).drop, drop_reason::queue);
}

TEST(Queue, ByteLimit)
{
    pipe_params p = rated(12'000'000);
    p.queue_bytes = 10'000;
    p.queue_slots = 1;  // ignored for a byte queue
    pipe_model m(p);
    for (int k = 0; k < 6; k++)
        ASSERT_EQ(m.arrive(0, 1500).drop, drop_reason::none) << k;  // 9000 B
    EXPECT_EQ(m.arrive(0, 1500).drop, drop_reason::queue);          // 10500 > 10000
    EXPECT_EQ(m.arrive(0, 1001).drop, drop_reason::queue);
    EXPECT_EQ(m.arrive(0, 1000).drop, drop_reason::none);           // exactly 10000 fits
    EXPECT_EQ(m.arrive(0, 1).drop, drop_reason::queue);
    EXPECT_EQ(m.arrive(1 * ms, 1500).drop, drop_reason::none);      // the first 1500 left
    EXPECT_EQ(m.arrive(1 * ms, 1).drop, drop_reason::queue);
}

TEST(Queue, PacketLargerThanByteLimitNeverFits)
{
    pipe_params p = rated(12'000'000);
    p.queue_bytes = 1000;
    pipe_model m(p);
    EXPECT_EQ(m.arrive(0, 1001).drop, drop_reason::queue);
    EXPECT_EQ(m.arrive(0, 1000).drop, drop_reason::none);
}

TEST(Queue, OccupancyAtInstant)
{
    pipe_model m(rated(12'000'000, 5 * ms, 50));
    for (int k = 0; k < 50; k++)
        m.arrive(0, 1500);
    EXPECT_EQ(m.occupancy_at(0).packets, 50u);
    EXPECT_EQ(m.occupancy_at(0).bytes, 75'000u);
    EXPECT_EQ(m.occupancy_at(1 * ms - 1).packets, 50u);
    EXPECT_EQ(m.occupancy_at(1 * ms).packets, 49u);
    EXPECT_EQ(m.occupancy_at(1 * ms).bytes, 73'500u);
    EXPECT_EQ(m.occupancy_at(49 * ms + 999).packets, 1u);
    EXPECT_EQ(m.occupancy_at(50 * ms).packets, 0u);
    EXPECT_EQ(m.occupancy_at(50 * ms).bytes, 0u);
}

TEST(Queue, UnlimitedRateNeverQueues)
{
    pipe_params p = rated(0, 1 * ms, 3);
    pipe_model m(p);
    for (int k = 0; k < 1000; k++)  // a burst at one instant: each is gone as it arrives
        ASSERT_EQ(m.arrive(5, 1500).drop, drop_reason::none);
    EXPECT_EQ(m.occupancy_at(5).packets, 0u);
}

TEST(Queue, EarlierArrivalCountsAsLastArrival)
{
    pipe_model a(rated(12'000'000, 0, 50)), b(rated(12'000'000, 0, 50));
    a.arrive(10 * ms, 1500);
    b.arrive(10 * ms, 1500);
    EXPECT_EQ(a.arrive(3 * ms, 1500).depart_ns, b.arrive(10 * ms, 1500).depart_ns);
}

TEST(Queue, ByteQueueAdmitsUnpaddedFramesByBytes)
{
    pipe_params p = rated(1'000'000);
    p.queue_bytes = 3840;  // 71 unpadded 54-byte ACKs fit (a veth or a capture delivers them)
    pipe_model m(p);
    size_t admitted = 0;
    for (int k = 0; k < 100; k++)
        admitted += m.arrive(0, 54).drop == drop_reason::none;
    EXPECT_EQ(admitted, 3840u / 54);
}

TEST(Queue, ByteQueueOfTinyPacketsIsBoundedByItsRing)
{
    pipe_params p = rated(1'000'000);
    p.queue_bytes = 1400;  // 100 bare 14-byte headers: ring of 128
    pipe_model m(p);
    ASSERT_EQ(pipe_model::queue_capacity_for(p), 128u);
    size_t admitted = 0;
    for (int k = 0; k < 1000; k++)
        admitted += m.arrive(0, 1).drop == drop_reason::none;
    EXPECT_EQ(admitted, 128u);  // a counted queue drop, never an overwrite
}

}  // namespace
}  // namespace stasis::dataplane::test
