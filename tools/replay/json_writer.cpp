// JSON text: escaping, numbers, indentation.
#include "json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace stasis::replay {

std::string json_writer::quote(std::string_view s)
{
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    return out + "\"";
}

void json_writer::newline()
{
    _out += '\n';
    _out.append(2 * _stack.size(), ' ');
}

std::string json_writer::number(double v)
{
    if (!std::isfinite(v))
        return "null";
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

void json_writer::item(std::string_view key)
{
    if (_stack.empty())
        return;
    level &l = _stack.back();
    if (!l.first)
        _out += l.is_inline ? ", " : ",";
    if (!l.is_inline)
        newline();
    l.first = false;
    if (!key.empty())
        _out += quote(key) + ": ";
}

json_writer &json_writer::begin_object(std::string_view key)
{
    item(key);
    _out += "{";
    const bool in_inline = !_stack.empty() && _stack.back().is_inline;
    _stack.push_back({true, in_inline});
    return *this;
}

json_writer &json_writer::begin_array(std::string_view key, bool inline_items)
{
    item(key);
    _out += "[";
    const bool in_inline = !_stack.empty() && _stack.back().is_inline;
    _stack.push_back({true, inline_items || in_inline});
    return *this;
}

json_writer &json_writer::end_object()
{
    const level l = _stack.back();
    _stack.pop_back();
    if (!l.first && !l.is_inline)
        newline();
    _out += "}";
    return *this;
}

json_writer &json_writer::end_array()
{
    const level l = _stack.back();
    _stack.pop_back();
    if (!l.first && !l.is_inline)
        newline();
    _out += "]";
    return *this;
}

json_writer &json_writer::value(std::string_view key, int64_t v)
{
    item(key);
    _out += std::to_string(v);
    return *this;
}

json_writer &json_writer::value(std::string_view key, uint64_t v)
{
    item(key);
    _out += std::to_string(v);
    return *this;
}

json_writer &json_writer::value(std::string_view key, double v)
{
    item(key);
    _out += number(v);
    return *this;
}

json_writer &json_writer::value(std::string_view key, bool v)
{
    item(key);
    _out += v ? "true" : "false";
    return *this;
}

json_writer &json_writer::value(std::string_view key, std::string_view v)
{
    item(key);
    _out += quote(v);
    return *this;
}

json_writer &json_writer::null(std::string_view key)
{
    item(key);
    _out += "null";
    return *this;
}

json_writer &json_writer::raw(std::string_view key, std::string_view json)
{
    item(key);
    _out += json;
    return *this;
}

}  // namespace stasis::replay
