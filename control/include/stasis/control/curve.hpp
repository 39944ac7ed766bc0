// CURVE security for the control sockets: key pairs, key files, allow-lists, the loopback rule for
// plain mode, the ZAP handler an agent uses to let in allow-listed controllers, and the handshake
// monitor a controller uses to tell a refused key from a silent agent. docs/SECURITY.md has the why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace stasis::control {

inline constexpr size_t z85_key_chars = 40;  // a 32-byte CURVE key in Z85

// A CURVE key pair in Z85. `secret_key` is empty when only the public half is known (a .pub file).
struct key_pair {
    std::string public_key;
    std::string secret_key;
};

// A fresh key pair from libzmq; throws std::runtime_error when libzmq was built without CURVE.
key_pair generate_key_pair();
// True when `key` is 40 Z85 characters (a 32-byte key).
bool is_z85_key(std::string_view key);
// The public key that belongs to a Z85 secret key; throws std::invalid_argument on a malformed key.
std::string public_key_of(std::string_view secret_key);

// Key files, one `name = "value"` per line, '#' comments, ZeroMQ zcert-style (docs/SECURITY.md):
//     public-key = "<40 Z85 characters>"
//     secret-key = "<40 Z85 characters>"     (NAME.key only)
// Every reader throws std::runtime_error naming the file, and the line when the text is at fault.

// The keys in a .key or .pub file; the secret, when there, must match the public key.
key_pair read_key_file(const std::filesystem::path &path);
// A .key file: both keys, and a file only its owner can read (like ssh, which refuses looser modes).
key_pair read_secret_key_file(const std::filesystem::path &path);

// Writes DIR/NAME.key (mode 0600, both keys) and DIR/NAME.pub (0644, public key only). Refuses to
// overwrite either unless `force`, and a NAME that is not a plain file name.
struct key_file_paths {
    std::filesystem::path secret, pub;
};
key_file_paths write_key_files(const std::filesystem::path &dir, std::string_view name, const key_pair &keys,
                               bool force);

// The public keys an agent lets in, from a .pub file, a file of bare Z85 keys one per line (comments
// allowed), or a directory (every *.pub in it). A secret key in an allow-list is an error: the agent
// never needs a controller's secret.
std::vector<std::string> read_allow_list(const std::filesystem::path &path);

// True for bind endpoints only this host can reach: tcp://127.x.y.z, tcp://[::1], tcp://localhost,
// ipc://, inproc://. Plain (unauthenticated) agents may bind nowhere else.
bool is_loopback_endpoint(std::string_view endpoint);

// The ZAP 1.0 handler (RFC 27) of one context: a REP socket on inproc://zeromq.zap.01 that answers
// libzmq's authentication requests for CURVE servers of `domain` from an allow-list. Polled by its
// owner (the agent's poll_once); libzmq holds the handshake until the answer comes, so no thread is
// needed. One per context: a second one in the same context throws std::runtime_error.
class zap_handler {
public:
    using log_fn = std::function<void(const std::string &line)>;

    // `allowed`: Z85 public keys. `log` gets one line for the first refusal of each key.
    zap_handler(zmq::context_t &ctx, const std::vector<std::string> &allowed, std::string domain, log_fn log);

    zmq::socket_ref socket() { return _socket; }
    // Answers every waiting request; returns how many were refused. Never throws for what arrives.
    size_t answer_pending();
    uint64_t refused() const { return _refused; }

private:
    // The status code ("200", "400", "500") and text of the answer to one request.
    std::pair<std::string_view, std::string> judge(std::vector<zmq::message_t> &request, std::string &user_id);

    zmq::socket_t _socket;
    std::set<std::string> _allowed;  // binary, 32 bytes each: what the request carries
    std::string _domain;
    log_fn _log;
    std::set<std::string> _logged;  // keys already reported, bounded
    uint64_t _refused = 0;
};

// The handshakes of one socket as its monitor reports them (zmq_socket_monitor on an inproc PAIR).
class handshake_monitor {
public:
    struct failure {
        uint16_t event = 0;  // ZMQ_EVENT_HANDSHAKE_FAILED_*
        uint32_t value = 0;  // the ZAP status code or ZMQ_PROTOCOL_ERROR_* or errno
    };

    // Starts watching; do it before `watched` connects so that no handshake is missed.
    handshake_monitor(zmq::context_t &ctx, zmq::socket_t &watched);

    zmq::pollitem_t poll_item() { return {_socket.handle(), 0, ZMQ_POLLIN, 0}; }
    // Reads every pending event and returns the newest failure among them; a success after it
    // clears it. Never blocks.
    std::optional<failure> read_events();
    // The newest failure not followed by a success, over every read so far.
    const std::optional<failure> &last_failure() const { return _last; }
    // Handshakes that failed since the last success.
    unsigned failures_in_a_row() const { return _in_a_row; }
    void forget() { _last.reset(), _in_a_row = 0; }
    // Whether the peer is there, as of the events read so far: a handshake succeeded and no
    // disconnection (the peer closed, or stopped answering heartbeats) came after it.
    bool connected() const { return _connected; }
    // Handshakes that succeeded so far: a new connection to the peer each (perhaps a new process).
    uint64_t handshakes() const { return _handshakes; }

private:
    zmq::socket_t _socket;
    std::optional<failure> _last;
    unsigned _in_a_row = 0;
    bool _connected = false;
    uint64_t _handshakes = 0;
};

}  // namespace stasis::control
