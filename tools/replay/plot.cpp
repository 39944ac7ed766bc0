// Plot data files, the gnuplot script, and running gnuplot.
#include "stasis/replay/plot.hpp"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char **environ;

namespace stasis::replay {

namespace {

bool in_path(const std::string &program)
{
    const char *path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':'))
        if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0)
            return true;
    return false;
}

void write_file(const std::string &path, const std::string &text)
{
    std::ofstream f(path, std::ios::trunc);
    f << text;
    f.close();
    if (!f)
        throw replay_error(path + ": cannot write");
}

// gnuplot single-quoted string: a quote is doubled.
std::string q(const std::string &s)
{
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

std::string cdf_data(const fidelity_report &r)
{
    std::ostringstream o;
    o << "# delay_ms fraction_le  (block 0: replay, block 1: reference)\n";
    for (const histogram *h : {&r.delays(), &r.reference_delays()}) {
        for (const auto &[v, frac] : h->cdf())
            o << double(v) / 1e6 << ' ' << frac << '\n';
        o << "\n\n";
    }
    return o.str();
}

std::string series_data(const fidelity_report &r, bool queue)
{
    std::ostringstream o;
    const auto &bins = r.series().bins();
    const double w = double(r.series().bin_ns());
    o << (queue ? "# t_s mean_packets max_packets mean_bytes max_bytes (seen by arrivals)\n"
                : "# t_s out_mbps\n");
    for (size_t i = 0; i < bins.size(); i++) {
        const series_bin &b = bins[i];
        const double t = double(i) * w / 1e9;
        if (queue) {
            if (b.q_samples)
                o << t << ' ' << double(b.q_sum_packets) / double(b.q_samples) << ' ' << b.q_max_packets
                  << ' ' << double(b.q_sum_bytes) / double(b.q_samples) << ' ' << b.q_max_bytes << '\n';
        } else {
            o << t << ' ' << double(b.out_bytes) * 8 / (w / 1e9) / 1e6 << '\n';
        }
    }
    return o.str();
}

std::string script(const std::string &dir, const dataplane::pipe_params &p, int64_t bin_ns)
{
    const auto f = [&](const char *name) { return q(dir + "/" + name); };
    std::ostringstream s;
    s << "set terminal pngcairo size 900,540 noenhanced font 'sans,10'\nset grid\nset key bottom right\n"
         "set offsets 0, 0, graph 0.1, 0\n";  // headroom above the highest point (the limit lines)
    s << "set output " << f("delay_cdf.png") << "\nset title 'Per-packet delay (departure - arrival)'\n"
      << "set xlabel 'delay (ms)'\nset ylabel 'fraction of packets <= delay'\nset yrange [0:1.02]\n"
      << "plot " << f("delay_cdf.dat") << " index 0 using 1:2 with steps lw 2 title 'replay', "
      << f("delay_cdf.dat") << " index 1 using 1:2 with steps dt 2 lw 2 title 'reference'\n";
    s << "set output " << f("throughput.png") << "\nset title 'Throughput out of the link, "
      << double(bin_ns) / 1e6 << " ms bins'\nset xlabel 'time since the first arrival (s)'\n"
      << "set ylabel 'Mbit/s'\nset yrange [0:*]\nset key top right\n";
    s << "plot " << f("throughput.dat") << " using 1:2 with steps lw 2 title 'departures'";
    if (p.rate_bps)
        s << ", " << double(p.rate_bps) / 1e6 << " with lines dt 2 lw 2 title 'configured rate'";
    s << "\n";
    s << "set output " << f("queue.png") << "\nset title 'Queue seen by arriving packets'\n";
    if (p.queue_bytes) {
        s << "set ylabel 'bytes'\nplot " << f("queue.dat")
          << " using 1:5 with steps lw 1 title 'max in bin', "
          << f("queue.dat") << " using 1:4 with steps lw 2 title 'mean in bin', " << p.queue_bytes
          << " with lines dt 2 title 'limit'\n";
    } else {
        s << "set ylabel 'packets'\nplot " << f("queue.dat")
          << " using 1:3 with steps lw 1 title 'max in bin', "
          << f("queue.dat") << " using 1:2 with steps lw 2 title 'mean in bin', " << p.queue_slots
          << " with lines dt 2 title 'limit'\n";
    }
    return s.str();
}

}  // namespace

void require_gnuplot()
{
    if (!in_path("gnuplot"))
        throw replay_error("--plot needs gnuplot, which is not in PATH "
                           "(Debian: apt-get install gnuplot-nox)");
}

void write_plots(const std::string &dir, const fidelity_report &report, const dataplane::pipe_params &params)
{
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw replay_error(dir + ": cannot create the plot directory: " + std::strerror(errno));
    write_file(dir + "/delay_cdf.dat", cdf_data(report));
    write_file(dir + "/throughput.dat", series_data(report, false));
    write_file(dir + "/queue.dat", series_data(report, true));
    const std::string gp = dir + "/plots.gp";
    write_file(gp, script(dir, params, report.series().bin_ns()));

    require_gnuplot();
    const char *argv[] = {"gnuplot", gp.c_str(), nullptr};
    pid_t pid = 0;
    if (const int rc = ::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, const_cast<char **>(argv), environ))
        throw replay_error("cannot run gnuplot: " + std::string(std::strerror(rc)));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw replay_error("gnuplot failed on " + gp + " (status " + std::to_string(status) + ")");
}

}  // namespace stasis::replay
