// What every `stasis` subcommand shares: the command table, the connection context, output helpers.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "args.hpp"
#include "stasis/control.pb.h"
#include "stasis/control/agent_client.hpp"

namespace stasis::tools {

inline constexpr std::string_view default_control = "tcp://127.0.0.1:6001";

// Global options, the command being run, and the client made on first use.
class context {
public:
    std::string endpoint{default_control};
    std::chrono::milliseconds timeout{1000};
    int tries = 3;
    std::chrono::milliseconds long_timeout{600'000};  // --long-timeout: save and load
    std::string path = "stasis";  // the command as typed so far, for messages ("stasis link show")
    std::string key_file;        // --key: this controller's CURVE key pair (NAME.key); plain when empty
    std::string agent_key_file;  // --agent-key: the agent's public key (NAME.pub)

    // The client's options from --key/--agent-key (CURVE when given); throws usage_error on a bad
    // or missing key file.
    control::client_options client_options() const;

    // Sends the request; throws operation_error on no answer or a status other than OK.
    control::Reply call(const control::Request &request);
    // The same for a save or a load, which the agent answers when done (up to --long-timeout while it
    // stays connected); says on stderr every few seconds that it is still waiting.
    control::Reply call_long(const control::Request &request, const char *doing);

private:
    control::agent_client &client();
    control::Reply checked(control::call_result reply);
    std::unique_ptr<control::agent_client> _client;
};

// A leaf has `run`; a group has `subcommands` and dispatches to them by name. New subcommands
// (freeze, save, snapshot ...) are new rows in a table.
struct command {
    std::string_view name;
    std::string_view summary;   // one line, for the parent's help
    std::string_view synopsis;  // after the path on the usage line: "[LINK] [--json]"
    std::string_view help;      // what follows the usage line in --help
    int (*run)(context &ctx, args &words) = nullptr;
    std::span<const command> subcommands = {};
};

// Runs `cmd` (a leaf, or the subcommand named by the next word), or prints its help for --help/-h.
// Returns the exit code; throws usage_error and operation_error.
int run_command(const command &cmd, context &ctx, args &words);

// The help text of `cmd` reached by `path`.
std::string help_text(const command &cmd, std::string_view path);

// The message as JSON (MessageToJsonString), for --json.
void print_json(const google::protobuf::Message &message);

// Top-level commands, each defined in its cli_*.cpp.
extern const command hello_command;
extern const command keygen_command;
extern const command checkpoint_command;
extern const command swapout_command;
extern const command swapin_command;
extern const command timetravel_command;
extern const command status_command;
extern const command checkpoints_command;
extern const command recover_command;

// `stasis thaw EXP` (cli_experiment.cpp); -1 when the words are an agent's thaw instead.
int run_thaw_experiment(args &words);
extern const command link_command;
extern const command freeze_command;
extern const command thaw_command;
extern const command save_command;
extern const command load_command;
extern const command resume_command;
extern const command snapshot_command;
extern const command replay_command;

}  // namespace stasis::tools
