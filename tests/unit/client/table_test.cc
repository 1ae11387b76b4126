// Table layouts: the sheet's generic one (7.3), fixed layouts, and -q.
#include "mayastor-client/table.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

Table sheet_table() {
    Table t;
    t.columns = sheet_columns({"NAME", ">SIZE", "STATE"});
    t.rows = {{"a", "1", "online"}, {"longer-name", "123456", "degraded"}};
    return t;
}

TEST(Table, SheetColumns) {
    auto cols = sheet_columns({"NAME", ">SIZE", "progress (%)"});
    ASSERT_EQ(cols.size(), 3u);
    EXPECT_EQ(cols[0].header, "NAME");
    EXPECT_FALSE(cols[0].right);
    EXPECT_EQ(cols[1].header, "SIZE");
    EXPECT_TRUE(cols[1].right);
    EXPECT_EQ(cols[2].header, "progress (%)");
    EXPECT_EQ(cols[2].min_width, 0u);
    EXPECT_EQ(cols[2].gap, " ");
}

TEST(Table, SheetLayoutPadsEveryColumnIncludingTheLast) {
    EXPECT_EQ(render_table(sheet_table(), 1),
              "NAME          SIZE STATE   \n"
              "a                1 online  \n"
              "longer-name 123456 degraded\n");
    EXPECT_EQ(render_table(sheet_table(), 3), render_table(sheet_table(), 1));
}

TEST(Table, HeaderWiderThanCells) {
    Table t;
    t.columns = sheet_columns({"progress (%)"});
    t.rows = {{"42"}};
    EXPECT_EQ(render_table(t, 1), "progress (%)\n42          \n");
}

TEST(Table, QuietJoinsValuesWithOneSpace) {
    EXPECT_EQ(render_table(sheet_table(), 0), "a 1 online\nlonger-name 123456 degraded\n");
    Table t;
    t.columns = sheet_columns({"A", "B"});
    t.rows = {{"x", ""}};
    EXPECT_EQ(render_table(t, 0), "x \n");
}

TEST(Table, NoRowsAtDefaultVerbosityIsTheHeaderOnly) {
    Table t;
    t.columns = sheet_columns({"NAME", "STATE"});
    EXPECT_EQ(render_table(t, 1), "NAME STATE\n");
    EXPECT_EQ(render_table(t, 0), "");
}

TEST(Table, FixedLayout) {
    Table t;
    t.trim_trailing = true;
    t.columns = {{.header = "A", .min_width = 4},
                 {.header = "N", .right = true, .min_width = 5, .header_inset = 1},
                 {.header = "LAST", .gap = "   "}};
    t.rows = {{"x", "12", "end"}, {"yyyyyy", "3", ""}};
    EXPECT_EQ(render_table(t, 1),
              "A         N    LAST\n"
              "x         12   end\n"
              "yyyyyy     3\n");
}

TEST(Table, WidthCountsCodePoints) {
    EXPECT_EQ(text_width("abc"), 3u);
    EXPECT_EQ(text_width("z\xc3\xbcrich"), 6u);  // zürich
    Table t;
    t.columns = sheet_columns({"NAME", "X"});
    t.rows = {{"z\xc3\xbcrich", "1"}};
    EXPECT_EQ(render_table(t, 1), "NAME   X\nz\xc3\xbcrich 1\n");
}

}  // namespace
}  // namespace ms::client
