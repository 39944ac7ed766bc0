// The envelope codec: frame splitting, request decoding and what a refusal says.
#include <gtest/gtest.h>

#include "stasis/control/envelope.hpp"

namespace stasis::control {
namespace {

std::vector<zmq::message_t> frames_of(std::initializer_list<std::string_view> parts)
{
    std::vector<zmq::message_t> frames;
    for (auto p : parts)
        frames.emplace_back(p.data(), p.size());
    return frames;
}

TEST(envelope, request_round_trip)
{
    Request request;
    request.set_request_id(99);
    request.mutable_link_show()->set_link("lan0");
    auto decoded = decode_request(encode(request));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message;
    EXPECT_EQ(decoded->request_id(), 99u);
    EXPECT_EQ(decoded->link_show().link(), "lan0");
}

TEST(envelope, garbage_is_not_a_request)
{
    auto decoded = decode_request(zmq::message_t(std::string_view("garbage\xff\xff")));
    ASSERT_FALSE(decoded.has_value());
    EXPECT_EQ(decoded.error().message, "the 9-byte body is not a stasis.control.Request protobuf");
}

TEST(envelope, request_without_op_is_refused_with_its_id)
{
    Request request;
    request.set_request_id(7);
    auto decoded = decode_request(encode(request));
    ASSERT_FALSE(decoded.has_value());
    EXPECT_EQ(decoded.error().request_id, 7u);
    EXPECT_NE(decoded.error().message.find("no operation"), std::string::npos) << decoded.error().message;
}

TEST(envelope, split_routed_with_delimiter)
{
    auto frames = frames_of({"peer", "", "body"});
    auto routed = split_routed(frames);
    ASSERT_TRUE(routed.has_value()) << routed.error();
    EXPECT_EQ(routed->route.size(), 2u);
    EXPECT_EQ(routed->body->to_string(), "body");
}

TEST(envelope, split_routed_without_delimiter)
{
    auto frames = frames_of({"peer", "body"});
    auto routed = split_routed(frames);
    ASSERT_TRUE(routed.has_value()) << routed.error();
    EXPECT_EQ(routed->route.size(), 1u);
    EXPECT_EQ(routed->body->to_string(), "body");
}

TEST(envelope, split_routed_through_a_proxy_keeps_every_routing_frame)
{
    auto frames = frames_of({"proxy", "client", "", "body"});
    auto routed = split_routed(frames);
    ASSERT_TRUE(routed.has_value()) << routed.error();
    EXPECT_EQ(routed->route.size(), 3u);
    EXPECT_EQ(routed->body->to_string(), "body");
}

TEST(envelope, split_routed_refuses_two_bodies)
{
    auto frames = frames_of({"peer", "", "one", "two"});
    auto routed = split_routed(frames);
    ASSERT_FALSE(routed.has_value());
    EXPECT_EQ(routed.error(), "expected one body frame after the routing frames, got 2");
}

TEST(envelope, split_routed_refuses_a_bare_routing_id)
{
    auto frames = frames_of({"peer"});
    EXPECT_FALSE(split_routed(frames).has_value());
}

TEST(envelope, dealer_body)
{
    auto two = frames_of({"", "body"});
    auto one = frames_of({"body"});
    auto three = frames_of({"", "a", "b"});
    ASSERT_TRUE(dealer_body(two).has_value());
    EXPECT_EQ((*dealer_body(two))->to_string(), "body");
    ASSERT_TRUE(dealer_body(one).has_value());
    EXPECT_EQ((*dealer_body(one))->to_string(), "body");
    EXPECT_FALSE(dealer_body(three).has_value());
}

TEST(envelope, make_reply_replaces_invalid_utf8)
{
    Reply reply = make_reply(FAILED, "cannot open /tmp/\xff\xfe.snap: caf\xc3\xa9");
    EXPECT_EQ(reply.status(), FAILED);
    EXPECT_EQ(reply.message(), "cannot open /tmp/??.snap: caf\xc3\xa9");
    // and a peer can parse it
    auto decoded = decode_reply(encode(reply));
    ASSERT_TRUE(decoded.has_value()) << decoded.error();
    EXPECT_EQ(decoded->message(), reply.message());
}

TEST(envelope, make_reply_refuses_overlong_and_surrogate_utf8)
{
    EXPECT_EQ(make_reply(OK, "\xc0\xaf|\xed\xa0\x80|\xf0\x9f\x98\x80").message(), "??|???|\xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace stasis::control
