// A minimal JSON writer for the fidelity report: objects and arrays, indented, keys in insertion order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stasis::replay {

class json_writer {
public:
    json_writer &begin_object(std::string_view key = {});
    json_writer &end_object();
    json_writer &begin_array(std::string_view key = {}, bool inline_items = false);
    json_writer &end_array();

    json_writer &value(std::string_view key, int64_t v);
    json_writer &value(std::string_view key, uint64_t v);
    json_writer &value(std::string_view key, int v) { return value(key, int64_t(v)); }
    json_writer &value(std::string_view key, double v);
    json_writer &value(std::string_view key, bool v);
    json_writer &value(std::string_view key, std::string_view v);
    json_writer &value(std::string_view key, const char *v) { return value(key, std::string_view(v)); }
    json_writer &null(std::string_view key);
    json_writer &raw(std::string_view key, std::string_view json);  // an already formatted value

    std::string str() const { return _out + "\n"; }

    static std::string quote(std::string_view s);
    static std::string number(double v);  // shortest form that reads back; null for NaN/inf

private:
    void item(std::string_view key);
    void newline();  // and indent to the current depth

    struct level {
        bool first = true;
        bool is_inline = false;
    };
    std::string _out;
    std::vector<level> _stack;
};

}  // namespace stasis::replay
