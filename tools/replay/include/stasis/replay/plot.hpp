// --plot DIR: the report's data as text files plus a gnuplot script, rendered to PNG by gnuplot.
#pragma once

#include <string>

#include "stasis/replay/fidelity.hpp"

namespace stasis::replay {

// Throws replay_error when gnuplot is not in PATH (checked before a replay starts).
void require_gnuplot();

// Writes DIR/{delay_cdf,throughput,queue}.dat and DIR/plots.gp, runs gnuplot on it, giving
// DIR/{delay_cdf,throughput,queue}.png. Creates DIR if missing. Throws replay_error.
void write_plots(const std::string &dir, const fidelity_report &report, const dataplane::pipe_params &params);

}  // namespace stasis::replay
