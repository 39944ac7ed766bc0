// Experiment files: text format -> message -> every semantic rule checked, with file:line.
#include "stasis/control/experiment.hpp"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace stasis::control {
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

// A path in the file is relative to the file's folder.
void resolve(std::string &path, const fs::path &base)
{
    if (!path.empty() && fs::path(path).is_relative())
        path = (base / path).lexically_normal().string();
}

bool loopback(const std::string &ep)
{
    for (const char *p : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"})
        if (ep.rfind(p, 0) == 0)
            return true;
    return false;
}

}  // namespace

experiment_spec parse_experiment(const std::string &text, const std::string &file)
{
    experiment_spec spec;
    spec.file = fs::absolute(file).lexically_normal().string();
    spec.text = text;
    gp::TextFormat::ParseInfoTree tree;
    syntax_errors syntax(file);
    gp::TextFormat::Parser parser;
    parser.RecordErrorsTo(&syntax);
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &spec.msg)) {
        if (syntax.list.empty())
            syntax.list.push_back(file + ": cannot parse");
        throw experiment_error(joined(syntax.list));
    }
    auto &e = spec.msg;
    const auto *desc = e.GetDescriptor();
    auto line_of = [&](const char *field, int index = -1) {
        auto loc = tree.GetLocation(desc->FindFieldByName(field), index);
        return loc.line >= 0 ? loc.line + 1 : 1;
    };
    std::vector<std::string> errors;
    auto at = [&](int line) { return file + ":" + std::to_string(line) + ": "; };

    if (e.name().empty())
        errors.push_back(at(1) + "the experiment has no name");
    else if (e.name().find_first_of("/ \t\n") != std::string::npos)
        errors.push_back(at(line_of("name")) + "name '" + e.name() + "': no slashes or spaces");
    if (e.agent_size() == 0)
        errors.push_back(at(1) + "no agent: an experiment needs at least one");
    const fs::path base = fs::path(spec.file).parent_path();
    resolve(*e.mutable_controller_key(), base);
    resolve(*e.mutable_catalog(), base);
    std::set<std::string> names, endpoints;
    for (int i = 0; i < e.agent_size(); i++) {
        auto &a = *e.mutable_agent(i);
        const std::string where = at(line_of("agent", i)) + "agent '" + a.name() + "': ";
        if (a.name().empty() || a.name().find_first_of("/ \t\n") != std::string::npos)
            errors.push_back(at(line_of("agent", i)) + "agent " + std::to_string(i + 1) +
                             ": needs a name without slashes or spaces");
        else if (!names.insert(a.name()).second)
            errors.push_back(where + "a second agent of that name");
        if (a.endpoint().empty())
            errors.push_back(where + "endpoint is empty");
        else if (!endpoints.insert(a.endpoint()).second)
            errors.push_back(where + "endpoint " + a.endpoint() + " is another agent's too");
        if (a.snapshot_dir().empty())
            errors.push_back(where + "snapshot_dir is empty: where should it save?");
        resolve(*a.mutable_public_key(), base);
        resolve(*a.mutable_snapshot_dir(), base);
        if (a.public_key().empty() != e.controller_key().empty())
            errors.push_back(where + (a.public_key().empty()
                                          ? "no public_key, but the experiment has a controller_key (CURVE)"
                                          : "a public_key, but the experiment has no controller_key"));
        if (a.public_key().empty() && !a.endpoint().empty() && !loopback(a.endpoint()))
            errors.push_back(where + "plain (no keys) is only for loopback endpoints, not " + a.endpoint());
    }
    if (e.min_lead_ms() == 0)
        e.set_min_lead_ms(50);
    if (e.skew_budget_us() == 0)
        e.set_skew_budget_us(1000);
    if (e.probes() == 0)
        e.set_probes(8);
    if (e.timeout_ms() == 0)
        e.set_timeout_ms(1000);
    if (e.tries() == 0)
        e.set_tries(3);
    if (e.long_timeout_ms() == 0)
        e.set_long_timeout_ms(600'000);
    if (e.catalog().empty()) {
        const char *env = std::getenv("STASIS_CATALOG");
        e.set_catalog(env && *env ? env : "/var/lib/stasis/catalog.db");
    }
    if (!errors.empty())
        throw experiment_error(joined(errors));
    return spec;
}

experiment_spec load_experiment(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw experiment_error(path + ": cannot open: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_experiment(text.str(), path);
}

std::string artifact_path(const stasis::experiment::Experiment &exp, const stasis::experiment::Agent &agent,
                          const std::string &checkpoint)
{
    fs::path p = fs::path(agent.snapshot_dir()) / exp.name() / checkpoint / agent.name();
    if (agent.role() == stasis::experiment::Agent::DELAY)
        p += ".snap";
    return p.string();
}

}  // namespace stasis::control
