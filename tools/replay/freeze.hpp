// The checkpoint of a replay: freeze the link and the packets in flight into plain bytes, then resume
// from those bytes alone in a fresh model, the pause later. One function, so that the byte image can be
// replaced by the snapshot/ file codec without touching the replay loop.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "held_packet.hpp"
#include "stasis/dataplane/pipe_model.hpp"

namespace stasis::replay {

// The byte image: model state (pipe_model::save()) and held packets, little-endian, versioned.
std::vector<uint8_t> encode_frozen(const dataplane::pipe_state &state, const std::deque<held_packet> &held);
// Throws replay_error on a malformed image.
void decode_frozen(std::span<const uint8_t> image, dataplane::pipe_state &state,
                   std::deque<held_packet> &held);

// Saves `model` and `held` to an image, destroys both, restores a new model from the image alone with
// pipe_model::restore(params, state), and shifts it and the held departures by pause_ns. Returns the
// image size.
size_t freeze_and_resume(dataplane::pipe_model &model, std::deque<held_packet> &held,
                         const dataplane::pipe_params &params, int64_t pause_ns);

}  // namespace stasis::replay
