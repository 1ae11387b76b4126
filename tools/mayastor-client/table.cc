#include "mayastor-client/table.h"

#include <algorithm>

namespace ms::client {
namespace {

void append_cell(std::string& line, std::string_view text, size_t width, bool right) {
    size_t fill = width > text_width(text) ? width - text_width(text) : 0;
    if (right) {
        line.append(fill, ' ');
    }
    line.append(text);
    if (!right) {
        line.append(fill, ' ');
    }
}

void end_line(std::string& out, std::string line, bool trim) {
    if (trim) {
        while (!line.empty() && line.back() == ' ') {
            line.pop_back();
        }
    }
    out += line;
    out += '\n';
}

}  // namespace

std::vector<Column> sheet_columns(std::initializer_list<std::string_view> headers) {
    std::vector<Column> columns;
    for (auto h : headers) {
        Column c;
        c.right = !h.empty() && h.front() == '>';
        c.header = std::string(c.right ? h.substr(1) : h);
        columns.push_back(std::move(c));
    }
    return columns;
}

size_t text_width(std::string_view text) {
    return static_cast<size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string render_table(const Table& table, int verbosity) {
    std::string out;
    const auto& cols = table.columns;
    if (verbosity <= 0) {
        for (const auto& row : table.rows) {
            std::string line;
            for (size_t i = 0; i < row.size(); ++i) {
                if (i > 0) {
                    line += ' ';
                }
                line += row[i];
            }
            end_line(out, std::move(line), false);
        }
        return out;
    }

    std::vector<size_t> widths(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) {
        widths[i] = std::max(cols[i].min_width, text_width(cols[i].header) + cols[i].header_inset);
        for (const auto& row : table.rows) {
            if (i < row.size()) {
                widths[i] = std::max(widths[i], text_width(row[i]));
            }
        }
    }

    std::string header;
    for (size_t i = 0; i < cols.size(); ++i) {
        if (i > 0) {
            header += cols[i].gap;
        }
        append_cell(header, cols[i].header, widths[i] - cols[i].header_inset, cols[i].right);
        header.append(cols[i].header_inset, ' ');
    }
    end_line(out, std::move(header), table.trim_trailing);

    for (const auto& row : table.rows) {
        std::string line;
        for (size_t i = 0; i < cols.size(); ++i) {
            if (i > 0) {
                line += cols[i].gap;
            }
            append_cell(line, i < row.size() ? std::string_view(row[i]) : std::string_view(), widths[i],
                        cols[i].right);
        }
        end_line(out, std::move(line), table.trim_trailing);
    }
    return out;
}

}  // namespace ms::client
