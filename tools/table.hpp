// A plain-text table with aligned columns, as `ip -br` or `tc -s` print them.
#pragma once

#include <string>
#include <vector>

namespace stasis::tools {

class table {
public:
    enum class align { left, right };
    struct column {
        std::string title;
        align side = align::left;
    };

    explicit table(std::vector<column> columns) : _columns(std::move(columns)) {}

    // Missing cells are blank; extra cells are an error in the caller, and dropped.
    void add(std::vector<std::string> row) { _rows.push_back(std::move(row)); }
    bool empty() const { return _rows.empty(); }

    // Columns separated by two spaces, no trailing blanks.
    std::string render() const;

private:
    std::vector<column> _columns;
    std::vector<std::vector<std::string>> _rows;
};

}  // namespace stasis::tools
