// Plain-text table rendering.
#include "table.hpp"

#include <algorithm>

namespace stasis::tools {

std::string table::render() const
{
    std::vector<size_t> width(_columns.size());
    for (size_t c = 0; c < _columns.size(); ++c) {
        width[c] = _columns[c].title.size();
        for (const auto &row : _rows)
            if (c < row.size())
                width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    auto emit = [&](auto cell_of) {
        std::string line;
        for (size_t c = 0; c < _columns.size(); ++c) {
            const std::string &cell = cell_of(c);
            const size_t pad = width[c] - cell.size();
            if (c > 0)
                line += "  ";
            if (_columns[c].side == align::right)
                line.append(pad, ' ');
            line += cell;
            if (_columns[c].side == align::left)
                line.append(pad, ' ');
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out += line + "\n";
    };
    emit([&](size_t c) -> const std::string & { return _columns[c].title; });
    static const std::string blank;
    for (const auto &row : _rows)
        emit([&](size_t c) -> const std::string & { return c < row.size() ? row[c] : blank; });
    return out;
}

}  // namespace stasis::tools
