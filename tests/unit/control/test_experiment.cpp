// Experiment files: defaults, paths resolved against the file's folder, every problem named with
// file:line, and where each agent's artifact goes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "catalog_testing.hpp"
#include "stasis/control/experiment.hpp"

namespace stasis::control {
namespace {

namespace xp = stasis::experiment;
using testing::temp_dir;

// The error message of a parse that must fail.
std::string error_of(const std::string &text, const std::string &file = "/exp/demo.exp")
{
    try {
        parse_experiment(text, file);
    } catch (const experiment_error &e) {
        return e.what();
    }
    ADD_FAILURE() << "parsed without an error:\n" << text;
    return {};
}

bool has(const std::string &haystack, const std::string &needle) { return haystack.find(needle) != std::string::npos; }

// Restores an environment variable when it goes out of scope.
struct env_guard {
    std::string name;
    std::optional<std::string> was;
    explicit env_guard(std::string n) : name(std::move(n))
    {
        if (const char *v = getenv(name.c_str()))
            was = v;
    }
    ~env_guard()
    {
        if (was)
            setenv(name.c_str(), was->c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

const char *valid_text = R"(name: "demo"
catalog: "state/catalog.db"
agent {
  name: "d1"
  endpoint: "tcp://127.0.0.1:6001"
  snapshot_dir: "snaps"
  links: "lan0"
}
agent {
  name: "n1"
  role: NODE
  endpoint: "ipc:///tmp/n1.sock"
  snapshot_dir: "/var/lib/stasis/guests"
}
)";

TEST(Experiment, valid_file_gets_defaults_and_absolute_paths)
{
    const auto spec = parse_experiment(valid_text, "/exp/sub/demo.exp");
    EXPECT_EQ(spec.file, "/exp/sub/demo.exp");
    EXPECT_EQ(spec.text, valid_text);
    const auto &e = spec.msg;
    EXPECT_EQ(e.name(), "demo");
    EXPECT_EQ(e.catalog(), "/exp/sub/state/catalog.db");
    ASSERT_EQ(e.agent_size(), 2);
    EXPECT_EQ(e.agent(0).snapshot_dir(), "/exp/sub/snaps");
    EXPECT_EQ(e.agent(0).role(), xp::Agent::DELAY);
    EXPECT_EQ(e.agent(1).snapshot_dir(), "/var/lib/stasis/guests");  // absolute: untouched
    EXPECT_EQ(e.agent(1).role(), xp::Agent::NODE);
    EXPECT_EQ(e.lead_ms(), 0u);  // automatic
    EXPECT_EQ(e.min_lead_ms(), 50u);
    EXPECT_EQ(e.skew_budget_us(), 1000u);
    EXPECT_EQ(e.probes(), 8u);
    EXPECT_EQ(e.timeout_ms(), 1000u);
    EXPECT_EQ(e.tries(), 3u);
}

TEST(Experiment, given_budgets_are_kept)
{
    const auto spec = parse_experiment(std::string(valid_text) + "lead_ms: 7 min_lead_ms: 5 skew_budget_us: 250\n"
                                                                 "probes: 3 timeout_ms: 100 tries: 1\n",
                                       "/exp/demo.exp");
    EXPECT_EQ(spec.msg.lead_ms(), 7u);
    EXPECT_EQ(spec.msg.min_lead_ms(), 5u);
    EXPECT_EQ(spec.msg.skew_budget_us(), 250u);
    EXPECT_EQ(spec.msg.probes(), 3u);
    EXPECT_EQ(spec.msg.timeout_ms(), 100u);
    EXPECT_EQ(spec.msg.tries(), 1u);
}

TEST(Experiment, relative_file_name_becomes_absolute)
{
    const auto spec = parse_experiment(valid_text, "sub/../demo.exp");
    EXPECT_EQ(spec.file, (std::filesystem::current_path() / "demo.exp").string());
    EXPECT_EQ(spec.msg.agent(0).snapshot_dir(), (std::filesystem::current_path() / "snaps").string());
}

TEST(Experiment, catalog_defaults_to_the_environment_then_var_lib)
{
    const char *no_catalog = R"(name: "demo"
agent { name: "d1" endpoint: "ipc:///tmp/d1" snapshot_dir: "/s" })";
    env_guard guard("STASIS_CATALOG");
    setenv("STASIS_CATALOG", "/elsewhere/cat.db", 1);
    EXPECT_EQ(parse_experiment(no_catalog, "/exp/demo.exp").msg.catalog(), "/elsewhere/cat.db");
    unsetenv("STASIS_CATALOG");
    EXPECT_EQ(parse_experiment(no_catalog, "/exp/demo.exp").msg.catalog(), "/var/lib/stasis/catalog.db");
}

TEST(Experiment, duplicate_agent_name_names_the_second_agents_line)
{
    const auto m = error_of(R"(name: "demo"
agent { name: "d1" endpoint: "ipc:///tmp/a" snapshot_dir: "/s" }

agent {
  name: "d1"
  endpoint: "ipc:///tmp/b"
  snapshot_dir: "/s"
})");
    EXPECT_EQ(m, "/exp/demo.exp:4: agent 'd1': a second agent of that name");
}

TEST(Experiment, empty_endpoint_and_missing_snapshot_dir_are_both_reported)
{
    const auto m = error_of(R"(name: "demo"
agent { name: "d1" endpoint: "ipc:///tmp/a" snapshot_dir: "/s" }
agent { name: "d2" }
agent { name: "d3" endpoint: "ipc:///tmp/a" snapshot_dir: "/s" })");
    EXPECT_TRUE(has(m, "/exp/demo.exp:3: agent 'd2': endpoint is empty")) << m;
    EXPECT_TRUE(has(m, "/exp/demo.exp:3: agent 'd2': snapshot_dir is empty")) << m;
    EXPECT_TRUE(has(m, "/exp/demo.exp:4: agent 'd3': endpoint ipc:///tmp/a is another agent's too")) << m;
    EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << "one line per problem:\n" << m;
}

TEST(Experiment, plain_agent_only_on_loopback)
{
    const auto m = error_of(R"(name: "demo"
agent { name: "d1" endpoint: "tcp://10.0.0.2:6001" snapshot_dir: "/s" })");
    EXPECT_EQ(m, "/exp/demo.exp:2: agent 'd1': plain (no keys) is only for loopback endpoints, not "
                 "tcp://10.0.0.2:6001");
    for (const char *ep : {"tcp://127.0.0.1:6001", "tcp://localhost:6001", "tcp://[::1]:6001", "ipc:///tmp/x"})
        EXPECT_NO_THROW(parse_experiment(std::string("name: \"demo\" agent { name: \"d1\" endpoint: \"") + ep +
                                             "\" snapshot_dir: \"/s\" }",
                                         "/exp/demo.exp"))
            << ep;
}

TEST(Experiment, public_key_without_controller_key)
{
    const auto m = error_of(R"(name: "demo"
agent {
  name: "d1" endpoint: "tcp://10.0.0.2:6001" snapshot_dir: "/s" public_key: "d1.pub"
})");
    EXPECT_EQ(m, "/exp/demo.exp:2: agent 'd1': a public_key, but the experiment has no controller_key");
}

TEST(Experiment, controller_key_without_public_key)
{
    const auto m = error_of(R"(name: "demo"
controller_key: "keys/ctl.key"
agent { name: "d1" endpoint: "ipc:///tmp/d1" snapshot_dir: "/s" })");
    EXPECT_EQ(m, "/exp/demo.exp:3: agent 'd1': no public_key, but the experiment has a controller_key (CURVE)");
}

TEST(Experiment, keys_on_both_sides_allow_any_endpoint_and_are_resolved)
{
    const auto spec = parse_experiment(R"(name: "demo"
controller_key: "keys/ctl.key"
agent { name: "d1" endpoint: "tcp://10.0.0.2:6001" snapshot_dir: "/s" public_key: "keys/d1.pub" })",
                                       "/exp/demo.exp");
    EXPECT_EQ(spec.msg.controller_key(), "/exp/keys/ctl.key");
    EXPECT_EQ(spec.msg.agent(0).public_key(), "/exp/keys/d1.pub");
}

TEST(Experiment, no_name_no_agent_and_bad_names)
{
    EXPECT_EQ(error_of("probes: 2\n"),
              "/exp/demo.exp:1: the experiment has no name\n/exp/demo.exp:1: no agent: an experiment needs at least one");
    const auto m = error_of(R"(name: "de mo"
agent { name: "a/b" endpoint: "ipc:///tmp/d1" snapshot_dir: "/s" })");
    EXPECT_TRUE(has(m, "/exp/demo.exp:1: name 'de mo': no slashes or spaces")) << m;
    EXPECT_TRUE(has(m, "/exp/demo.exp:2: agent 1: needs a name without slashes or spaces")) << m;
}

TEST(Experiment, syntax_error_names_line_and_column)
{
    // Protobuf points at the token after the unknown name (the colon, column 7).
    const auto m = error_of("name: \"demo\"\nagent {\n  nmae: \"d1\"\n}\n");
    EXPECT_TRUE(m.starts_with("/exp/demo.exp:3:7: ")) << m;
    EXPECT_TRUE(has(m, "no field named \"nmae\"")) << m;
    const auto unclosed = error_of("name: \"demo\"\nagent {\n");
    EXPECT_TRUE(unclosed.starts_with("/exp/demo.exp:3:")) << unclosed;
}

TEST(Experiment, load_reads_the_file_and_resolves_against_its_folder)
{
    temp_dir dir;
    std::filesystem::create_directories(dir.path / "e");
    const std::string file = dir.file("e/demo.exp");
    std::ofstream(file) << valid_text;
    const auto spec = load_experiment(file);
    EXPECT_EQ(spec.file, file);
    EXPECT_EQ(spec.text, valid_text);
    EXPECT_EQ(spec.msg.agent(0).snapshot_dir(), dir.file("e/snaps"));
    EXPECT_EQ(spec.msg.catalog(), dir.file("e/state/catalog.db"));
}

TEST(Experiment, load_of_a_missing_file_names_it)
{
    temp_dir dir;
    const std::string file = dir.file("nope.exp");
    try {
        load_experiment(file);
        FAIL() << "loaded a missing file";
    } catch (const experiment_error &e) {
        EXPECT_EQ(std::string(e.what()), file + ": cannot open: No such file or directory");
    }
}

TEST(Experiment, artifact_path_per_role)
{
    const auto spec = parse_experiment(valid_text, "/exp/demo.exp");
    EXPECT_EQ(artifact_path(spec.msg, spec.msg.agent(0), "c3"), "/exp/snaps/demo/c3/d1.snap");
    EXPECT_EQ(artifact_path(spec.msg, spec.msg.agent(1), "c3"), "/var/lib/stasis/guests/demo/c3/n1");
}

}  // namespace
}  // namespace stasis::control
