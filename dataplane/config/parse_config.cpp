// Text -> Config message (syntax errors with line:col) -> daemon_config (every semantic error).
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "locator.hpp"
#include "readers.hpp"
#include "stasis/dataplane/config.hpp"
#include "text.hpp"

namespace stasis::dataplane {

namespace {

std::string join_lines(const std::vector<std::string> &lines) {
    std::string out;
    for (const std::string &l : lines) out += (out.empty() ? "" : "\n") + l;
    return out;
}

// protobuf counts lines and columns from 0; people and editors count from 1.
class syntax_errors : public google::protobuf::io::ErrorCollector {
public:
    explicit syntax_errors(std::string_view file) : _file(file) {}
    void AddError(int line, google::protobuf::io::ColumnNumber column,
                  const std::string &message) override {
        list.push_back(detail::cat(_file, ":", line + 1, ":", column + 1, ": ", message));
    }
    std::vector<std::string> list;

private:
    std::string_view _file;
};

// A value set in `shape` breaks the same rule in both directions; say it once.
std::vector<std::string> unique_in_order(std::vector<std::string> errors) {
    std::vector<std::string> out;
    for (std::string &e : errors)
        if (std::ranges::find(out, e) == out.end()) out.push_back(std::move(e));
    return out;
}

}  // namespace

config_error::config_error(std::vector<std::string> errors)
    : std::runtime_error(join_lines(errors)), _errors(std::move(errors)) {}

daemon_config parse_config(std::string_view text, std::string_view filename) {
    namespace gp = google::protobuf;
    stasis::config::Config msg;
    gp::TextFormat::ParseInfoTree tree;
    syntax_errors syntax(filename);
    gp::TextFormat::Parser parser;
    parser.RecordErrorsTo(&syntax);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(std::string(text), &msg)) {
        if (syntax.list.empty()) syntax.list.push_back(detail::cat(filename, ": cannot parse"));
        throw config_error(std::move(syntax.list));
    }

    daemon_config out;
    std::vector<std::string> errors;
    const detail::locator root(filename, &tree, msg.GetDescriptor());
    detail::read_daemon(msg.daemon(), root.nested("daemon"), out, errors);
    detail::read_links(msg, root, out, errors);
    if (!errors.empty()) throw config_error(unique_in_order(std::move(errors)));
    return out;
}

daemon_config load_config_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error({detail::cat(path, ": cannot open: ", std::strerror(errno))});
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw config_error({detail::cat(path, ": cannot read: ", std::strerror(errno))});
    return parse_config(text.str(), path);
}

}  // namespace stasis::dataplane
