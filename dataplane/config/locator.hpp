// Where a field was written in a config file, from protobuf's ParseInfoTree: "delayd.conf:12".
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <string>
#include <string_view>

namespace stasis::dataplane::detail {

// A block of the file (the whole file, `daemon`, a `link`, its `a_to_b`...). Fields are named by
// paths of field names below it ("red.thresh"). What was not written is placed at its nearest
// written ancestor, so every message has a line.
class locator {
public:
    using tree = google::protobuf::TextFormat::ParseInfoTree;

    locator(std::string_view file, const tree *t, const google::protobuf::Descriptor *type,
            int line = 1)
        : _file(file), _tree(t), _type(type), _line(line) {}

    // A nested block: `index` -1 for a singular field, else the element of a repeated one.
    locator nested(std::string_view field, int index = -1) const;

    // 1-based line of the field at `path` (element `index` of its last step when repeated).
    int line(std::string_view path = {}, int index = -1) const;

    // "file:line" of the field at `path`.
    std::string at(std::string_view path = {}, int index = -1) const;

private:
    std::string_view _file;
    const tree *_tree;  // null when the block was not written
    const google::protobuf::Descriptor *_type;
    int _line;
};

// Whether the field at `path` below `msg` is set (presence for optional fields and blocks).
bool has_path(const google::protobuf::Message &msg, std::string_view path);

}  // namespace stasis::dataplane::detail
