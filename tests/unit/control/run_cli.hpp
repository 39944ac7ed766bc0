// Runs the built `stasis` command (path in $STASIS_BIN, set by meson) and collects what it printed.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char **environ;

namespace stasis::control::testing {

struct cli_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};

inline std::string slurp_and_remove(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    unlink(path.c_str());
    return ss.str();
}

// `env` entries ("NAME=value") replace the test's environment, so STASIS_CONTROL never leaks in.
inline cli_result run_cli(const std::vector<std::string> &argv_words, const std::vector<std::string> &env = {})
{
    const char *bin = std::getenv("STASIS_BIN");
    if (!bin)
        return {-1, "", "STASIS_BIN is not set; run through meson test"};
    char out_path[] = "/tmp/stasis-cli-out-XXXXXX";
    char err_path[] = "/tmp/stasis-cli-err-XXXXXX";
    int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_fd, 2);

    std::vector<std::string> words{bin};
    words.insert(words.end(), argv_words.begin(), argv_words.end());
    std::vector<char *> argv, envp;
    for (auto &w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    for (auto &e : env_copy)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    cli_result result;
    pid_t pid = 0;
    if (posix_spawn(&pid, bin, &actions, nullptr, argv.data(), envp.data()) == 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out_fd);
    close(err_fd);
    result.out = slurp_and_remove(out_path);
    result.err = slurp_and_remove(err_path);
    return result;
}

}  // namespace stasis::control::testing
