// The metadata records: plain structs <-> protobuf messages of proto/stasis/snapshot.proto. Pipe
// parameters go through the configuration's own encoding (to_proto) and rules (apply_changes).
#pragma once

#include <expected>
#include <string>

#include "stasis/snapshot.pb.h"
#include "stasis/snapshot/contents.hpp"

namespace stasis::snapshot::codec {

Header to_proto(const header &h);
// Errors say what is wrong in the message; the caller adds the file and the record.
std::expected<header, std::string> from_proto(const Header &m);

Link to_proto(const link_info &l);
std::expected<link_info, std::string> from_proto(const Link &m);

// Fails when the parameters would not read back identical (they break the configuration's rules).
std::expected<Pipe, std::string> to_proto(const pipe_record &p);
std::expected<pipe_record, std::string> from_proto(const Pipe &m);

}  // namespace stasis::snapshot::codec
