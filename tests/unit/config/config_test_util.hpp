// Helpers shared by the config tests.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "stasis/dataplane/config.hpp"

namespace stasis::dataplane {

// Failures show the configuration as text rather than bytes.
inline void PrintTo(const daemon_config &c, std::ostream *os) { *os << "\n" << dump_config(c); }
inline void PrintTo(const link_config &l, std::ostream *os) {
    *os << to_proto(l).ShortDebugString();
}
inline void PrintTo(const pipe_params &p, std::ostream *os) { *os << to_proto(p).ShortDebugString(); }

}  // namespace stasis::dataplane

namespace stasis::dataplane::test {

// The errors parse_config reports for `text` (named "t.conf"); none if it parses.
inline std::vector<std::string> errors_of(const std::string &text) {
    try {
        parse_config(text, "t.conf");
    } catch (const config_error &e) {
        return e.errors();
    }
    return {};
}

// The only error, or a failure naming all of them.
inline std::string only_error(const std::string &text) {
    const std::vector<std::string> errors = errors_of(text);
    if (errors.size() != 1) {
        std::string all;
        for (const std::string &e : errors) all += "\n  " + e;
        ADD_FAILURE() << "expected one error, got " << errors.size() << ":" << all;
        return "";
    }
    return errors.front();
}

// A well-formed link around a pipe block, so that a test varies one thing.
inline std::string link_with(const std::string &pipe_blocks, const std::string &name = "l") {
    return "link {\n"
           "  name: \"" + name + "\"\n"
           "  a { port: \"p0\" }\n"
           "  b { port: \"p1\" }\n" +
           pipe_blocks + "}\n";
}

}  // namespace stasis::dataplane::test
