// The command-line word list.
#include "args.hpp"

#include <charconv>

namespace stasis::tools {
namespace {

bool is_option(std::string_view word) { return word.size() > 1 && word[0] == '-' && word != "--"; }

}  // namespace

size_t args::find_option(std::string_view name) const
{
    for (size_t i = 0; i < _words.size(); ++i) {
        std::string_view w = _words[i];
        if (w == "--")
            break;
        if (w == name || (w.starts_with(name) && w.size() > name.size() && w[name.size()] == '='))
            return i;
    }
    return _words.size();
}

bool args::flag(std::string_view name)
{
    size_t i = find_option(name);
    if (i == _words.size())
        return false;
    if (_words[i] != name)
        throw usage_error(std::string(name) + " takes no value");
    _words.erase(_words.begin() + static_cast<ptrdiff_t>(i));
    return true;
}

std::optional<std::string> args::option(std::string_view name)
{
    size_t i = find_option(name);
    if (i == _words.size())
        return std::nullopt;
    auto at = _words.begin() + static_cast<ptrdiff_t>(i);
    if (_words[i] != name) {  // --name=VALUE
        std::string value = _words[i].substr(name.size() + 1);
        _words.erase(at);
        return value;
    }
    if (i + 1 == _words.size() || _words[i + 1] == "--")
        throw usage_error(std::string(name) + " needs a value");
    std::string value = _words[i + 1];
    _words.erase(at, at + 2);
    return value;
}

std::optional<long long> args::int_option(std::string_view name, long long min, long long max)
{
    auto text = option(name);
    if (!text)
        return std::nullopt;
    long long value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max)
        throw usage_error(std::string(name) + " wants a whole number from " + std::to_string(min) +
                          " to " + std::to_string(max) + ", not '" + *text + "'");
    return value;
}

std::optional<std::string> args::next()
{
    for (size_t i = 0; i < _words.size(); ++i) {
        if (_words[i] == "--") {
            if (i + 1 == _words.size())
                return std::nullopt;
            std::string w = _words[i + 1];
            _words.erase(_words.begin() + static_cast<ptrdiff_t>(i + 1));
            return w;
        }
        if (!is_option(_words[i])) {
            std::string w = _words[i];
            _words.erase(_words.begin() + static_cast<ptrdiff_t>(i));
            return w;
        }
    }
    return std::nullopt;
}

bool args::empty() const { return _words.empty() || (_words.size() == 1 && _words[0] == "--"); }

bool args::wants_help() const
{
    for (const auto &w : _words) {
        if (w == "--")
            break;
        if (w == "--help" || w == "-h")
            return true;
    }
    return false;
}

std::vector<std::string> args::rest()
{
    std::vector<std::string> out;
    bool options_done = false;
    for (auto &w : _words) {
        if (!options_done && w == "--") {
            options_done = true;
            continue;
        }
        if (!options_done && is_option(w))
            throw usage_error("unknown option '" + w + "'");
        out.push_back(std::move(w));
    }
    _words.clear();
    return out;
}

void args::done()
{
    for (const auto &w : _words) {
        if (w == "--")
            continue;
        throw usage_error(is_option(w) ? "unknown option '" + w + "'" : "unexpected argument '" + w + "'");
    }
    _words.clear();
}

}  // namespace stasis::tools
