// `stasis checkpoints EXP`: an experiment's checkpoint tree as text for a person, or as JSON.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "stasis/control/catalog.hpp"

namespace stasis::control {

namespace {

// Columns on screen: UTF-8 continuation bytes take none (the tree's box-drawing characters).
size_t display_width(std::string_view s)
{
    return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (uint8_t(c) & 0xc0) != 0x80; }));
}

std::string name_of(const experiment_tree &t, std::optional<int64_t> checkpoint_id)
{
    for (const auto &c : t.checkpoints)
        if (checkpoint_id && c.id == *checkpoint_id)
            return c.name;
    return {};
}

bool shown(const checkpoint &c, const tree_options &o)
{
    return o.show_aborted || c.state != checkpoint_state::aborted;
}

std::string header(const experiment_tree &t)
{
    const auto &e = t.exp;
    std::string line = "experiment " + e.name + ": " + std::string(to_string(e.state)) + " on branch " + e.branch;
    for (const auto &b : t.branches)
        if (b.id == e.branch_id && b.base_id)
            line += " (from " + name_of(t, b.base_id) + ")";
    line += e.head_id ? ", head " + name_of(t, e.head_id) : ", no checkpoint yet";
    return line;
}

std::string artifacts_text(const artifact_total &total)
{
    if (total.count == 0)
        return "no artifacts";
    return std::to_string(total.count) + (total.count == 1 ? " artifact, " : " artifacts, ") +
           format_bytes(total.size_bytes);
}

using row = std::vector<std::string>;

// Each checkpoint's line, children after their parent (by id), with the tree drawn in the first cell.
void add_rows(const experiment_tree &t, size_t i, const std::string &lead, const std::string &indent,
              const std::multimap<std::optional<int64_t>, size_t> &children, std::vector<row> &rows)
{
    const auto &c = t.checkpoints[i];
    std::string tail = c.message.empty() ? "" : "(" + c.message + ")";
    if (t.exp.head_id == c.id)
        tail += (tail.empty() ? "" : "  ") + std::string("<- head");
    rows.push_back({lead + c.name, format_utc_ns(c.freeze_ns), std::string(to_string(c.state)), c.branch,
                    artifacts_text(t.totals[i]), tail});
    auto [first, last] = children.equal_range(c.id);
    for (auto it = first; it != last; ++it) {
        bool end = std::next(it) == last;
        add_rows(t, it->second, indent + (end ? "└── " : "├── "), indent + (end ? "    " : "│   "), children,
                 rows);
    }
}

std::string json_opt(std::optional<int64_t> v) { return v ? std::to_string(*v) : "null"; }
std::string json_name(const experiment_tree &t, std::optional<int64_t> id)
{
    return id ? json_string(name_of(t, id)) : "null";
}

}  // namespace

std::string json_string(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (uint8_t(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

catalog_result<experiment_tree> load_tree(catalog &cat, std::string_view experiment_name)
{
    experiment_tree t;
    auto e = cat.experiment_by_name(experiment_name);
    if (!e)
        return std::unexpected(e.error());
    t.exp = std::move(*e);
    auto b = cat.branches(t.exp.id);
    if (!b)
        return std::unexpected(b.error());
    t.branches = std::move(*b);
    auto c = cat.checkpoints(t.exp.id);
    if (!c)
        return std::unexpected(c.error());
    t.checkpoints = std::move(*c);
    for (const auto &cp : t.checkpoints) {
        auto total = cat.checkpoint_total(cp.id);
        if (!total)
            return std::unexpected(total.error());
        t.totals.push_back(*total);
    }
    return t;
}

std::string render_tree_text(const experiment_tree &t, const tree_options &options)
{
    std::set<int64_t> present;
    for (const auto &c : t.checkpoints)
        if (shown(c, options))
            present.insert(c.id);
    std::multimap<std::optional<int64_t>, size_t> children;  // parent (none for a root) -> index, by id
    for (size_t i = 0; i < t.checkpoints.size(); ++i) {
        const auto &c = t.checkpoints[i];
        if (shown(c, options))
            children.emplace(c.parent_id && present.count(*c.parent_id) ? c.parent_id : std::nullopt, i);
    }
    std::vector<row> rows;
    auto [first, last] = children.equal_range(std::nullopt);
    for (auto it = first; it != last; ++it)
        add_rows(t, it->second, "", "", children, rows);

    // Columns aligned two spaces apart; the last (message, head mark) is free text.
    std::vector<size_t> width(6, 0);
    for (const auto &r : rows)
        for (size_t col = 0; col < r.size(); ++col)
            width[col] = std::max(width[col], display_width(r[col]));
    std::string out = header(t) + "\n";
    for (const auto &r : rows) {
        std::string line;
        for (size_t col = 0; col < r.size(); ++col) {
            line += r[col];
            if (col + 1 < r.size())
                line += std::string(width[col] - display_width(r[col]) + 2, ' ');
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out += line + "\n";
    }
    return out;
}

std::string render_tree_json(const experiment_tree &t, const tree_options &options)
{
    const auto &e = t.exp;
    std::string out = "{\"experiment\":{\"id\":" + std::to_string(e.id) + ",\"name\":" + json_string(e.name) +
                      ",\"state\":" + json_string(to_string(e.state)) + ",\"branch\":" + json_string(e.branch) +
                      ",\"head\":" + json_name(t, e.head_id) + ",\"file_path\":" + json_string(e.file_path) +
                      ",\"created_ns\":" + std::to_string(e.created_ns) + "},\"branches\":[";
    for (size_t i = 0; i < t.branches.size(); ++i) {
        const auto &b = t.branches[i];
        out += std::string(i ? "," : "") + "{\"name\":" + json_string(b.name) + ",\"base\":" + json_name(t, b.base_id) +
               ",\"created_ns\":" + std::to_string(b.created_ns) + "}";
    }
    out += "],\"checkpoints\":[";
    bool comma = false;
    for (size_t i = 0; i < t.checkpoints.size(); ++i) {
        const auto &c = t.checkpoints[i];
        if (!shown(c, options))
            continue;
        out += std::string(comma ? "," : "") + "{\"id\":" + std::to_string(c.id) + ",\"name\":" + json_string(c.name) +
               ",\"parent\":" + json_name(t, c.parent_id) + ",\"branch\":" + json_string(c.branch) +
               ",\"state\":" + json_string(to_string(c.state)) + ",\"freeze_ns\":" + std::to_string(c.freeze_ns) +
               ",\"freeze_utc\":" + json_string(format_utc_ns(c.freeze_ns)) +
               ",\"created_ns\":" + std::to_string(c.created_ns) + ",\"ended_ns\":" + json_opt(c.ended_ns) +
               ",\"message\":" + json_string(c.message) + ",\"artifacts\":" + std::to_string(t.totals[i].count) +
               ",\"size_bytes\":" + std::to_string(t.totals[i].size_bytes) +
               ",\"head\":" + (e.head_id == c.id ? "true" : "false") + "}";
        comma = true;
    }
    return out + "]}\n";
}

std::string format_utc_ns(int64_t realtime_ns)
{
    time_t sec = time_t(realtime_ns / 1'000'000'000);
    int64_t rem = realtime_ns % 1'000'000'000;
    if (rem < 0) {
        rem += 1'000'000'000;
        --sec;
    }
    tm utc{};
    gmtime_r(&sec, &utc);
    char buf[48];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &utc);
    std::snprintf(buf + n, sizeof buf - n, ".%03d", int(rem / 1'000'000));
    return buf;
}

std::string format_bytes(int64_t bytes)
{
    static constexpr const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024)
        return std::to_string(bytes) + " B";
    double v = double(bytes) / 1024;
    size_t u = 0;
    while (v >= 1023.95 && u + 1 < std::size(units)) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace stasis::control
