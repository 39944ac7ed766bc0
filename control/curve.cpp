// CURVE key pairs, key files and allow-lists, and which endpoints count as loopback.
#include "stasis/control/curve.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace stasis::control {
namespace {

namespace fs = std::filesystem;

std::runtime_error file_error(const fs::path &path, size_t line, const std::string &what)
{
    return std::runtime_error(path.string() + ":" + std::to_string(line) + ": " + what);
}

std::string_view trim(std::string_view s)
{
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string_view::npos)
        return {};
    return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

// One meaningful line of a key file or an allow-list.
struct key_line {
    size_t number = 0;
    std::string name;  // "public-key", "secret-key", or empty for a bare key
    std::string value;
};

// `name = "value"` with a lower-case name, or nothing.
std::optional<std::pair<std::string_view, std::string_view>> split_field(std::string_view line)
{
    const auto eq = line.find('=');
    if (eq == std::string_view::npos)
        return std::nullopt;
    const std::string_view name = trim(line.substr(0, eq));
    const std::string_view value = trim(line.substr(eq + 1));
    const bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || c == '-' || c == '_';
    });
    if (!word || value.size() < 2 || value.front() != '"' || value.back() != '"')
        return std::nullopt;
    return std::pair{name, value.substr(1, value.size() - 2)};
}

// Reads `path` into key lines: comments, blank lines and zcert's section headers ("metadata",
// "curve") and metadata entries are skipped; what remains must be `name = "value"` or a bare key.
std::vector<key_line> read_key_lines(const fs::path &path)
{
    std::ifstream in(path);
    if (!in)
        throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    std::vector<key_line> lines;
    bool in_metadata = false;
    size_t number = 0;
    for (std::string raw; std::getline(in, raw);) {
        ++number;
        // Z85 uses '#' and '=', so a comment is a whole line and a field needs its quotes.
        std::string_view line = trim(raw);
        if (line.empty() || line.front() == '#')
            continue;
        const bool indented = raw[0] == ' ' || raw[0] == '\t';
        if (!indented && (line == "metadata" || line == "curve")) {
            in_metadata = line == "metadata";
            continue;
        }
        if (in_metadata && indented)
            continue;
        in_metadata = false;
        if (auto field = split_field(line)) {
            auto [name, value] = *field;
            if (name != "public-key" && name != "secret-key")
                throw file_error(path, number, "unknown field '" + std::string(name) +
                                                   "' (expected public-key or secret-key)");
            if (!is_z85_key(value))
                throw file_error(path, number, std::string(name) + " is not a 40-character Z85 key");
            lines.push_back({number, std::string(name), std::string(value)});
        } else if (is_z85_key(line)) {
            lines.push_back({number, "", std::string(line)});
        } else {
            throw file_error(path, number, "expected 'public-key = \"...\"' or a 40-character Z85 key, found '" +
                                               std::string(line.substr(0, 60)) + "'");
        }
    }
    if (in.bad())
        throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    return lines;
}

void write_new_file(const fs::path &path, const std::string &text, mode_t mode, bool force)
{
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
    const int fd = ::open(path.c_str(), flags, mode);
    if (fd < 0)
        throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
    // O_TRUNC keeps an old file's mode, and the umask may have loosened a new one's.
    bool ok = ::fchmod(fd, mode) == 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    const int err = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok)
        throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(err));
}

bool plain_file_name(std::string_view name)
{
    if (name.empty() || name.front() == '.' || name.size() > 200)
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.' || c == '@';
    });
}

bool ipv4_loopback(std::string_view host)
{
    if (!host.starts_with("127."))
        return false;
    int dots = 0;
    for (char c : host)
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return false;
    return dots == 3;
}

}  // namespace

key_pair generate_key_pair()
{
    char pub[z85_key_chars + 1], secret[z85_key_chars + 1];
    if (zmq_curve_keypair(pub, secret) != 0)
        throw std::runtime_error(std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()) +
                                 " (libzmq built without CURVE support?)");
    return {pub, secret};
}

bool is_z85_key(std::string_view key)
{
    if (key.size() != z85_key_chars)
        return false;
    char text[z85_key_chars + 1];
    std::memcpy(text, key.data(), z85_key_chars);
    text[z85_key_chars] = '\0';
    uint8_t binary[32];
    return zmq_z85_decode(binary, text) != nullptr;
}

std::string public_key_of(std::string_view secret_key)
{
    if (!is_z85_key(secret_key))
        throw std::invalid_argument("not a 40-character Z85 key");
    char secret[z85_key_chars + 1], pub[z85_key_chars + 1];
    std::memcpy(secret, secret_key.data(), z85_key_chars);
    secret[z85_key_chars] = '\0';
    if (zmq_curve_public(pub, secret) != 0)
        throw std::invalid_argument(std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
    return pub;
}

key_pair read_key_file(const fs::path &path)
{
    key_pair keys;
    size_t secret_line = 0;
    for (auto &line : read_key_lines(path)) {
        if (line.name.empty())
            throw file_error(path, line.number, "a bare key in a key file; write 'public-key = \"...\"'");
        std::string &slot = line.name == "public-key" ? keys.public_key : keys.secret_key;
        if (!slot.empty())
            throw file_error(path, line.number, "a second " + line.name);
        slot = std::move(line.value);
        if (line.name == "secret-key")
            secret_line = line.number;
    }
    if (keys.public_key.empty())
        throw std::runtime_error(path.string() + ": no public-key line: not a Stasis key file");
    if (!keys.secret_key.empty() && public_key_of(keys.secret_key) != keys.public_key)
        throw file_error(path, secret_line, "secret-key does not belong to public-key");
    return keys;
}

key_pair read_secret_key_file(const fs::path &path)
{
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        throw std::runtime_error(path.string() + ": mode " + mode +
                                 " lets others read the secret key; chmod 600 it (or make a new pair)");
    }
    key_pair keys = read_key_file(path);
    if (keys.secret_key.empty())
        throw std::runtime_error(path.string() + ": no secret-key line: this is a public key file; give the "
                                                 ".key file made with it");
    return keys;
}

key_file_paths write_key_files(const fs::path &dir, std::string_view name, const key_pair &keys, bool force)
{
    if (!plain_file_name(name))
        throw std::invalid_argument("key name '" + std::string(name) +
                                    "' is not a plain file name (letters, digits, - _ . @; choose the "
                                    "directory with --out)");
    if (!is_z85_key(keys.public_key) || !is_z85_key(keys.secret_key))
        throw std::invalid_argument("write_key_files: not a Z85 key pair");
    key_file_paths paths{dir / (std::string(name) + ".key"), dir / (std::string(name) + ".pub")};
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw std::runtime_error("cannot write keys into " + dir.string() + ": not a directory");
    if (!force)  // check both first, so that a refusal leaves no half pair behind
        for (const auto &p : {paths.secret, paths.pub})
            if (fs::symlink_status(p, ec).type() != fs::file_type::not_found)
                throw std::runtime_error(p.string() + " exists; use --force to replace it");
    const std::string who = "# Stasis CURVE key '" + std::string(name) + "' (stasis keygen; docs/SECURITY.md).\n";
    write_new_file(paths.secret,
                   who + "# Secret: only this controller or agent may read it.\n"
                         "public-key = \"" + keys.public_key + "\"\n"
                         "secret-key = \"" + keys.secret_key + "\"\n",
                   0600, force);
    write_new_file(paths.pub,
                   who + "# Public: give it to the peers that must recognise this key.\n"
                         "public-key = \"" + keys.public_key + "\"\n",
                   0644, force);
    return paths;
}

std::vector<std::string> read_allow_list(const fs::path &path)
{
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        std::vector<fs::path> files;
        for (const auto &entry : fs::directory_iterator(path, ec))
            if (entry.path().extension() == ".pub")
                files.push_back(entry.path());
        if (ec)
            throw std::runtime_error("cannot list " + path.string() + ": " + ec.message());
        std::sort(files.begin(), files.end());
        std::vector<std::string> keys;
        for (const auto &f : files)
            for (auto &k : read_allow_list(f))
                keys.push_back(std::move(k));
        if (keys.empty())
            throw std::runtime_error(path.string() + ": no *.pub files in this directory");
        return keys;
    }
    std::vector<std::string> keys;
    for (auto &line : read_key_lines(path)) {
        if (line.name == "secret-key")
            throw file_error(path, line.number,
                             "a secret key has no place in an allow-list; give the .pub file instead");
        keys.push_back(std::move(line.value));
    }
    if (keys.empty())
        throw std::runtime_error(path.string() + ": no keys in this allow-list");
    return keys;
}

bool is_loopback_endpoint(std::string_view endpoint)
{
    if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://"))
        return true;
    if (!endpoint.starts_with("tcp://"))
        return false;
    std::string_view address = endpoint.substr(6);
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos)
        return false;
    const std::string_view host = address.substr(0, colon);
    return host == "localhost" || host == "[::1]" || ipv4_loopback(host);
}

}  // namespace stasis::control
