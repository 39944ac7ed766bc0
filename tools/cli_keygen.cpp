// `stasis keygen`: a CURVE key pair for a controller or an agent, as NAME.key and NAME.pub.
#include <cstdio>

#include "cli.hpp"
#include "stasis/control/curve.hpp"

namespace stasis::tools {
namespace {

int run_keygen(context &, args &words)
{
    const std::string dir = words.option("--out").value_or(".");
    const bool force = words.flag("--force");
    auto name = words.next();
    words.done();
    if (!name)
        throw usage_error("missing NAME (the key files are NAME.key and NAME.pub)");
    control::key_file_paths paths;
    try {
        paths = control::write_key_files(dir, *name, control::generate_key_pair(), force);
    } catch (const std::invalid_argument &e) {
        throw usage_error(e.what());
    } catch (const std::exception &e) {
        throw operation_error(e.what());
    }
    const auto keys = control::read_key_file(paths.pub);
    std::printf("secret %s (mode 0600: keep it on this machine)\n", paths.secret.c_str());
    std::printf("public %s\n", paths.pub.c_str());
    std::printf("public-key %s\n", keys.public_key.c_str());
    return 0;
}

}  // namespace

constinit const command keygen_command = {
    .name = "keygen",
    .summary = "Make a CURVE key pair for a controller or an agent (NAME.key, NAME.pub).",
    .synopsis = "[--out DIR] [--force] NAME",
    .help = "Writes DIR/NAME.key (both keys, mode 0600) and DIR/NAME.pub (the public key). An agent\n"
            "takes its own .key (stasis-delayd --curve-key) and the controllers' .pub files (--allow);\n"
            "a controller takes its own .key (stasis --key) and the agent's .pub (--agent-key).\n"
            "See docs/SECURITY.md.\n"
            "\n"
            "Options:\n"
            "  --out DIR  where to write the files (default: the current directory)\n"
            "  --force    replace existing files of that name\n",
    .run = run_keygen,
};

}  // namespace stasis::tools
