// node.proto text -> node_config, with every problem reported at once as FILE:LINE.
#include "node_config.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "stasis/node.pb.h"
#include "stasis/node/disk_store.hpp"

namespace stasis::noded {

namespace {

namespace gp = google::protobuf;
namespace fs = std::filesystem;

class syntax_errors : public gp::io::ErrorCollector {
public:
    explicit syntax_errors(const std::string &file) : _file(file) {}
    void AddError(int line, gp::io::ColumnNumber column, const std::string &message) override
    {
        list.push_back(_file + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message);
    }
    std::vector<std::string> list;

private:
    const std::string &_file;
};

std::string joined(const std::vector<std::string> &lines)
{
    std::string out;
    for (const auto &l : lines)
        out += (out.empty() ? "" : "\n") + l;
    return out;
}

std::string resolved(const std::string &path, const fs::path &base)
{
    return path.empty() || fs::path(path).is_absolute() ? path : (base / path).lexically_normal().string();
}

std::string host_name()
{
    char buf[256] = {};
    return gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "node";
}

}  // namespace

node_config parse_node_config(const std::string &text, const std::string &file)
{
    node::Node msg;
    gp::TextFormat::ParseInfoTree tree;
    syntax_errors syntax(file);
    gp::TextFormat::Parser parser;
    parser.RecordErrorsTo(&syntax);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &msg))
        throw config_error(syntax.list.empty() ? file + ": cannot parse" : joined(syntax.list));
    const fs::path base = fs::absolute(file).parent_path();
    auto line_of = [](const gp::TextFormat::ParseInfoTree *t, const gp::Descriptor *d, const char *field) {
        auto loc = t ? t->GetLocation(d->FindFieldByName(field), -1) : gp::TextFormat::ParseLocation();
        return loc.line >= 0 ? loc.line + 1 : 1;
    };
    std::vector<std::string> errors;
    auto at = [&](int line) { return file + ":" + std::to_string(line) + ": "; };

    node_config c;
    c.name = msg.name().empty() ? host_name() : msg.name();
    c.control = msg.control();
    c.state_dir = resolved(msg.state_dir(), base);
    if (c.state_dir.empty())
        errors.push_back(at(1) + "state_dir is empty: where do the guests' run directories and disks go?");
    if (msg.guest_size() == 0)
        errors.push_back(at(1) + "no guest: the node has nothing to checkpoint");
    static const std::regex mac_re("^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$");
    std::set<std::string> names, taps;
    for (int i = 0; i < msg.guest_size(); ++i) {
        const auto &g = msg.guest(i);
        const auto *t = tree.GetTreeForNested(node::Node::descriptor()->FindFieldByName("guest"), i);
        const auto *d = node::Guest::descriptor();
        const std::string where = at(line_of(t, d, "name")) + "guest '" + g.name() + "': ";
        if (!node::valid_volume_part(g.name()))
            errors.push_back(where + "the name must be 1 to 64 of [A-Za-z0-9_-]");
        else if (!names.insert(g.name()).second)
            errors.push_back(where + "a second guest with this name");
        guest_spec s;
        auto &q = s.qemu;
        q.name = g.name();
        q.kernel = resolved(g.kernel(), base);
        q.initrd = resolved(g.initrd(), base);
        if (!g.image().empty()) {
            if (!g.kernel().empty() || !g.initrd().empty())
                errors.push_back(where + "image excludes kernel and initrd");
            const std::string image = resolved(g.image(), base);
            q.kernel = image + "/vmlinuz";
            q.initrd = image + "/initrd.gz";
        }
        if (q.kernel.empty())
            errors.push_back(where + "no kernel: set image (the project's guest image) or kernel");
        for (const auto *path : {&q.kernel, &q.initrd})
            if (!path->empty() && !fs::exists(*path))
                errors.push_back(at(line_of(t, d, g.image().empty() ? (path == &q.kernel ? "kernel" : "initrd")
                                                                    : "image")) +
                                 "guest '" + g.name() + "': " + *path + " does not exist");
        q.append = g.append();
        q.memory_mb = g.memory_mb() ? int(g.memory_mb()) : 256;
        q.cpus = g.cpus() ? int(g.cpus()) : 1;
        if (q.memory_mb < 16)
            errors.push_back(at(line_of(t, d, "memory_mb")) + "guest '" + g.name() + "': memory_mb below 16");
        for (const auto &n : g.nic()) {
            if (n.tap().empty() || !taps.insert(n.tap()).second)
                errors.push_back(at(line_of(t, d, "nic")) + "guest '" + g.name() + "': tap '" + n.tap() +
                                 "' is empty or used twice");
            if (!std::regex_match(n.mac(), mac_re))
                errors.push_back(at(line_of(t, d, "nic")) + "guest '" + g.name() + "': mac '" + n.mac() +
                                 "' is not xx:xx:xx:xx:xx:xx");
            q.nics.push_back({n.tap(), n.mac()});
        }
        s.disk_base = resolved(g.disk_base(), base);
        if (!s.disk_base.empty() && !fs::exists(s.disk_base))
            errors.push_back(at(line_of(t, d, "disk_base")) + "guest '" + g.name() + "': disk_base " +
                             s.disk_base + " does not exist");
        q.mode = g.time_mode() == node::Guest::CATCH_UP ? node::time_mode::catch_up : node::time_mode::frozen;
        q.icount = g.icount();
        if (!g.accel().empty())
            q.accel = g.accel();
        if (!g.qemu_binary().empty())
            q.qemu_binary = g.qemu_binary();
        q.launcher.assign(g.launcher().begin(), g.launcher().end());
        q.extra_args.assign(g.extra_arg().begin(), g.extra_arg().end());
        if (g.stop_timeout_ms() > 60'000)
            errors.push_back(at(line_of(t, d, "stop_timeout_ms")) + "guest '" + g.name() +
                             "': stop_timeout_ms above 60000");
        if (g.stop_timeout_ms())
            q.stop_timeout = std::chrono::milliseconds(g.stop_timeout_ms());
        q.run_dir = c.run_dir(g.name());
        c.guests.push_back(std::move(s));
    }
    if (!errors.empty())
        throw config_error(joined(errors));
    return c;
}

node_config load_node_config(const std::string &file)
{
    std::ifstream in(file);
    if (!in)
        throw config_error(file + ": cannot read");
    std::stringstream text;
    text << in.rdbuf();
    return parse_node_config(text.str(), file);
}

}  // namespace stasis::noded
