// The command line as a list of words that subcommands take from, and the errors that end a command.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stasis::tools {

// The user typed something wrong: exit code 2, with a pointer to --help.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The operation was attempted and did not succeed: exit code 1.
class operation_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Options may appear anywhere after the command that owns them; words that are not options are
// positional, in order. "--" ends the options.
class args {
public:
    explicit args(std::vector<std::string> words) : _words(std::move(words)) {}

    // Takes `--name` if present.
    bool flag(std::string_view name);
    // Takes `--name VALUE` or `--name=VALUE`; throws usage_error when the value is missing.
    std::optional<std::string> option(std::string_view name);
    // Like option(), parsed as an integer in [min, max].
    std::optional<long long> int_option(std::string_view name, long long min, long long max);

    // The next positional word, if any (taking it).
    std::optional<std::string> next();
    bool empty() const;
    // True when --help or -h is among the remaining words (taking nothing).
    bool wants_help() const;

    // Every remaining word is positional: throws usage_error on a leftover `--option`.
    std::vector<std::string> rest();
    // Nothing may remain: throws usage_error naming the first leftover word.
    void done();

private:
    size_t find_option(std::string_view name) const;

    std::vector<std::string> _words;
};

}  // namespace stasis::tools
