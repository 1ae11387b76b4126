#include "nexus/health_record.h"

#include <gtest/gtest.h>

namespace ms::nexus {
namespace {

TEST(HealthRecordTest, RoundTrip) {
    HealthRecord r;
    r.name = "nexus-1";
    r.size = 64ull << 20;
    r.children = {{"bdev:///a", true}, {"nvmf://h:8420/nqn?x=1", false}};
    auto back = decode_health_record(encode_health_record(r));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->name, r.name);
    EXPECT_EQ(back->size, r.size);
    ASSERT_EQ(back->children.size(), 2u);
    EXPECT_EQ(back->children[1].uri, "nvmf://h:8420/nqn?x=1");
    EXPECT_TRUE(back->is_current("bdev:///a"));
    EXPECT_FALSE(back->is_current("nvmf://h:8420/nqn?x=1"));
    EXPECT_FALSE(back->is_current("bdev:///unknown"));
}

TEST(HealthRecordTest, KeyAndFormat) {
    auto u = Uuid::parse("0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ(health_record_key(*u), "/mayastor/nexus/0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    HealthRecord r{"n", 512, {{"bdev:///a", true}}};
    EXPECT_EQ(encode_health_record(r),
              R"({"children":[{"current":true,"uri":"bdev:///a"}],"name":"n","size":512})");
}

TEST(HealthRecordTest, RejectsWhatIsNotARecord) {
    for (const char* bad : {"", "[]", "{", R"({"size":1,"children":[]})", R"({"name":"n","children":[]})",
                            R"({"name":"n","size":-1,"children":[]})", R"({"name":"n","size":1})",
                            R"({"name":"n","size":1,"children":[{"uri":"a"}]})",
                            R"({"name":"n","size":1,"children":[{"uri":1,"current":true}]})",
                            R"({"name":"n","size":1,"children":[3]})"}) {
        SCOPED_TRACE(bad);
        auto r = decode_health_record(bad);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, EINVAL);
    }
}

}  // namespace
}  // namespace ms::nexus
