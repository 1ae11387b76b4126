// Tables on stdout. Two layouts:
//  - the sheet's (API sheet 7.3): columns padded to their widest cell, header included, the last
//    column too; a header name starting with '>' is right-aligned;
//  - fixed layouts (`pool list`, `replica list`): minimum widths, a header cell may sit short of
//    the column's right edge, a wider separator before a column, no trailing spaces.
// At verbosity 0 (-q) both print rows only, cells joined by one space.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ms::client {

struct Column {
    std::string header;
    bool right = false;  // right-aligned
    size_t min_width = 0;
    size_t header_inset = 0;  // the header cell ends this many characters before the column's edge
    std::string gap = " ";    // printed before this column (not before the first)
};

struct Table {
    std::vector<Column> columns;
    std::vector<std::vector<std::string>> rows;  // each row has one cell per column
    bool trim_trailing = false;                  // strip spaces at the end of each line
};

// Columns of a sheet table from its header names (">NAME" = right-aligned NAME).
std::vector<Column> sheet_columns(std::initializer_list<std::string_view> headers);

// Display width: UTF-8 code points.
size_t text_width(std::string_view text);

// Every line ends with '\n'. Verbosity >= 1: header and padding; 0: plain rows.
std::string render_table(const Table& table, int verbosity);

}  // namespace ms::client
