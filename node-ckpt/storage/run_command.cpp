// posix_spawnp with both output pipes read until end of file, then waitpid.
#include "run_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char **environ;

namespace stasis::node {

namespace {

std::string joined(const std::vector<std::string> &argv)
{
    std::string s;
    for (const auto &a : argv)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

void drain(int out_fd, int err_fd, command_output &o)
{
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    std::string *sinks[2] = {&o.out, &o.err};
    int open_fds = 2;
    char buf[8192];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, size_t(n));
            } else if (n == 0 || errno != EINTR) {
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
}

}  // namespace

result<command_output> run_command(const std::vector<std::string> &argv)
{
    if (argv.empty())
        return fail(node_error::kind::io, "run_command: no command");
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return fail(node_error::kind::io, "pipe: " + std::string(std::strerror(errno)));
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return fail(node_error::kind::io, "pipe: " + std::string(std::strerror(errno)));
    }
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    command_output o;
    if (spawned == 0)
        drain(out[0], err[0], o);
    close(out[0]);
    close(err[0]);
    if (spawned != 0)
        return fail(node_error::kind::io, "cannot run " + argv[0] + ": " + std::strerror(spawned));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return fail(node_error::kind::io, "waitpid " + argv[0] + ": " + std::strerror(errno));
    o.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return o;
}

result<std::string> run_checked(const std::vector<std::string> &argv)
{
    auto o = run_command(argv);
    if (!o)
        return std::unexpected(o.error());
    if (o->exit_status != 0) {
        std::string why = o->err.empty() ? o->out : o->err;
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        return fail(node_error::kind::command,
                    joined(argv) + ": exit " + std::to_string(o->exit_status) + (why.empty() ? "" : ": " + why));
    }
    return std::move(o->out);
}

}  // namespace stasis::node
