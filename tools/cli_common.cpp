// Command dispatch, help, and the call to the agent, shared by every subcommand.
#include <cstdio>

#include <google/protobuf/util/json_util.h>

#include "cli.hpp"

namespace stasis::tools {

control::client_options context::client_options() const
{
    control::client_options options;
    if (key_file.empty() && agent_key_file.empty())
        return options;
    if (key_file.empty() || agent_key_file.empty())
        throw usage_error(key_file.empty() ? "--agent-key needs --key (this controller's key pair)"
                                           : "--key needs --agent-key (the agent's public key)");
    control::curve_client_options curve;
    try {
        curve.keys = control::read_secret_key_file(key_file);
    } catch (const std::exception &e) {
        throw usage_error(std::string("--key: ") + e.what());
    }
    try {
        curve.server_key = control::read_key_file(agent_key_file).public_key;
    } catch (const std::exception &e) {
        throw usage_error(std::string("--agent-key: ") + e.what());
    }
    options.curve = std::move(curve);
    return options;
}

control::agent_client &context::client()
{
    if (!_client) {
        auto options = client_options();
        try {
            _client = std::make_unique<control::agent_client>(endpoint, std::move(options));
        } catch (const std::exception &e) {
            throw usage_error(std::string("--control: ") + e.what());
        }
    }
    return *_client;
}

control::Reply context::call(const control::Request &request)
{
    return checked(client().call(request, timeout, tries));
}

control::Reply context::call_long(const control::Request &request, const char *doing)
{
    control::long_call how;
    how.patience = long_timeout;
    how.timeout = timeout;
    how.tries = tries;
    how.waiting = [&](std::chrono::milliseconds waited) {
        std::fprintf(stderr, "%s: %s: still %s after %lld s\n", path.c_str(), endpoint.c_str(), doing,
                     (long long)(waited.count() / 1000));
    };
    return checked(client().call_long(request, how));
}

control::Reply context::checked(control::call_result reply)
{
    if (!reply)
        throw operation_error(reply.error().message);
    if (reply->status() != control::OK) {
        const std::string &why = reply->message().empty() ? "(no message)" : reply->message();
        throw operation_error(control::Status_Name(reply->status()) + ": " + why);
    }
    return std::move(*reply);
}

std::string help_text(const command &cmd, std::string_view path)
{
    std::string text = "usage: " + std::string(path);
    if (!cmd.synopsis.empty())
        text.append(" ").append(cmd.synopsis);
    text += "\n";
    if (!cmd.summary.empty())
        text.append("\n").append(cmd.summary).append("\n");
    if (!cmd.help.empty())
        text.append("\n").append(cmd.help);
    if (!cmd.subcommands.empty()) {
        size_t width = 0;
        for (const auto &sub : cmd.subcommands)
            width = std::max(width, sub.name.size());
        text += "\nCommands:\n";
        for (const auto &sub : cmd.subcommands)
            text += "  " + std::string(sub.name) + std::string(width - sub.name.size() + 3, ' ') +
                    std::string(sub.summary) + "\n";
        text += "\nRun '" + std::string(path) + " COMMAND --help' for a command's options.\n";
    }
    return text;
}

int run_command(const command &cmd, context &ctx, args &words)
{
    if (cmd.subcommands.empty()) {
        if (words.wants_help()) {
            std::fputs(help_text(cmd, ctx.path).c_str(), stdout);
            return 0;
        }
        return cmd.run(ctx, words);
    }
    auto name = words.next();
    if (!name) {
        if (words.wants_help()) {
            std::fputs(help_text(cmd, ctx.path).c_str(), stdout);
            return 0;
        }
        words.done();  // an unknown option is the better message, if there is one
        throw usage_error("missing command");
    }
    for (const auto &sub : cmd.subcommands) {
        if (sub.name == *name) {
            ctx.path.append(" ").append(sub.name);
            return run_command(sub, ctx, words);
        }
    }
    throw usage_error("unknown command '" + *name + "'");
}

void print_json(const google::protobuf::Message &message)
{
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;  // a zero counter is a value, not an absence
    std::string json;
    if (auto status = google::protobuf::util::MessageToJsonString(message, &json, options); !status.ok())
        throw operation_error("cannot print the answer as JSON: " + status.ToString());
    std::fputs(json.c_str(), stdout);
    if (json.empty() || json.back() != '\n')
        std::fputc('\n', stdout);
}

}  // namespace stasis::tools
