// Following ParseInfoTree and presence along field paths.
#include "locator.hpp"

#include "text.hpp"

namespace stasis::dataplane::detail {

namespace gp = google::protobuf;

namespace {

// Splits "red.thresh" into its first step and the rest.
std::pair<std::string_view, std::string_view> first_step(std::string_view path) {
    const size_t dot = path.find('.');
    if (dot == std::string_view::npos) return {path, {}};
    return {path.substr(0, dot), path.substr(dot + 1)};
}

}  // namespace

locator locator::nested(std::string_view field, int index) const {
    const gp::FieldDescriptor *fd = _type->FindFieldByName(std::string(field));
    if (fd == nullptr || fd->message_type() == nullptr) return *this;
    const tree *sub = _tree != nullptr ? _tree->GetTreeForNested(fd, index) : nullptr;
    return locator(_file, sub, fd->message_type(), line(field, index));
}

int locator::line(std::string_view path, int index) const {
    if (path.empty() || _tree == nullptr) return _line;
    auto [step, rest] = first_step(path);
    const gp::FieldDescriptor *fd = _type->FindFieldByName(std::string(step));
    if (fd == nullptr) return _line;
    // ParseInfoTree wants -1 for singular fields; a repeated field's index applies to the last step.
    const int i = fd->is_repeated() ? (rest.empty() ? index : 0) : -1;
    if (fd->is_repeated() && i < 0) return _line;
    const gp::TextFormat::ParseLocation loc = _tree->GetLocation(fd, i);
    const int here = loc.line >= 0 ? loc.line + 1 : _line;
    if (rest.empty() || fd->message_type() == nullptr) return here;
    return locator(_file, _tree->GetTreeForNested(fd, i), fd->message_type(), here).line(rest, index);
}

std::string locator::at(std::string_view path, int index) const {
    return cat(_file, ":", line(path, index));
}

bool has_path(const gp::Message &msg, std::string_view path) {
    auto [step, rest] = first_step(path);
    const gp::FieldDescriptor *fd = msg.GetDescriptor()->FindFieldByName(std::string(step));
    if (fd == nullptr || fd->is_repeated()) return false;
    const gp::Reflection *r = msg.GetReflection();
    if (!r->HasField(msg, fd)) return false;
    if (rest.empty()) return true;
    return fd->message_type() != nullptr && has_path(r->GetMessage(msg, fd), rest);
}

}  // namespace stasis::dataplane::detail
