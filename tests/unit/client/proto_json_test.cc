// -o json: every field present, declaration order, enums as integers, 64-bit numbers, null for
// absent sub-messages, {} for an empty reply.
#include "mayastor-client/proto_json.h"

#include <gtest/gtest.h>

#include "mayastor.pb.h"

namespace ms::client {
namespace {

TEST(ProtoJson, EmptyReply) {
    EXPECT_EQ(json_text(mayastor::Null()), "{}");
}

TEST(ProtoJson, DefaultsArePresent) {
    EXPECT_EQ(json_text(mayastor::Replica()),
              "{\n"
              "  \"uuid\": \"\",\n"
              "  \"pool\": \"\",\n"
              "  \"thin\": false,\n"
              "  \"size\": 0,\n"
              "  \"share\": 0,\n"
              "  \"uri\": \"\"\n"
              "}");
    EXPECT_EQ(json_text(mayastor::ListPoolsReply()), "{\n  \"pools\": []\n}");
}

TEST(ProtoJson, PoolInDeclarationOrderWithEnumAsInteger) {
    mayastor::ListPoolsReply reply;
    auto* p = reply.add_pools();
    p->set_name("tpool");
    p->add_disks("aio:///dev/loop8?uuid=1");
    p->set_state(mayastor::POOL_ONLINE);
    p->set_capacity(100663296);
    EXPECT_EQ(json_text(reply),
              "{\n"
              "  \"pools\": [\n"
              "    {\n"
              "      \"name\": \"tpool\",\n"
              "      \"disks\": [\n"
              "        \"aio:///dev/loop8?uuid=1\"\n"
              "      ],\n"
              "      \"state\": 1,\n"
              "      \"capacity\": 100663296,\n"
              "      \"used\": 0\n"
              "    }\n"
              "  ]\n"
              "}");
}

TEST(ProtoJson, SixtyFourBitIntegersAreNumbers) {
    mayastor::Replica r;
    r.set_size(UINT64_MAX);
    auto j = to_json(r);
    EXPECT_TRUE(j["size"].is_number_unsigned());
    EXPECT_EQ(j["size"].get<uint64_t>(), UINT64_MAX);
    EXPECT_NE(json_text(r).find("\"size\": 18446744073709551615,"), std::string::npos);

    mayastor::GetResourceUsageReply usage;
    usage.mutable_usage()->set_soft_faults(-5);
    usage.mutable_usage()->set_invol_csw(INT64_MAX);
    auto u = to_json(usage);
    EXPECT_EQ(u["usage"]["soft_faults"].get<int64_t>(), -5);
    EXPECT_EQ(u["usage"]["invol_csw"].get<int64_t>(), INT64_MAX);
    EXPECT_EQ(u["usage"]["swaps"].get<int64_t>(), 0);
    EXPECT_EQ(u["usage"].size(), 10u);
}

TEST(ProtoJson, AbsentSubMessageIsNull) {
    EXPECT_EQ(json_text(mayastor::GetResourceUsageReply()), "{\n  \"usage\": null\n}");
    mayastor::BlockDevice d;
    d.set_devname("/dev/sda");
    d.mutable_filesystem();  // present, all defaults
    auto j = to_json(d);
    EXPECT_TRUE(j["partition"].is_null());
    ASSERT_TRUE(j["filesystem"].is_object());
    EXPECT_EQ(j["filesystem"]["fstype"], "");
    EXPECT_EQ(j["filesystem"]["mountpoint"], "");
    EXPECT_TRUE(j["devlinks"].is_array());
    EXPECT_EQ(j["size"], 0);
    EXPECT_EQ(j["available"], false);
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) {
        keys.push_back(it.key());
    }
    EXPECT_EQ(keys,
              (std::vector<std::string>{"devname", "devtype", "devmajor", "devminor", "model", "devpath",
                                        "devlinks", "size", "partition", "filesystem", "available"}));
}

TEST(ProtoJson, NestedRepeatedMessagesAndNegativeInt32) {
    mayastor::Nexus n;
    n.set_uuid("u");
    n.set_state(mayastor::NEXUS_DEGRADED);
    auto* c = n.add_children();
    c->set_uri("bdev:///r1");
    c->set_state(mayastor::CHILD_DEGRADED);
    c->set_rebuild_progress(-1);
    EXPECT_EQ(json_text(n),
              "{\n"
              "  \"uuid\": \"u\",\n"
              "  \"size\": 0,\n"
              "  \"state\": 2,\n"
              "  \"children\": [\n"
              "    {\n"
              "      \"uri\": \"bdev:///r1\",\n"
              "      \"state\": 2,\n"
              "      \"rebuild_progress\": -1\n"
              "    }\n"
              "  ],\n"
              "  \"device_uri\": \"\",\n"
              "  \"rebuilds\": 0\n"
              "}");
}

TEST(ProtoJson, EnumValueOutsideTheEnumStaysAnInteger) {
    mayastor::GetNvmeAnaStateReply reply;
    reply.set_ana_state(mayastor::NVME_ANA_CHANGE_STATE);
    EXPECT_EQ(json_text(reply), "{\n  \"ana_state\": 15\n}");
    mayastor::Replica r;
    r.set_share(static_cast<mayastor::ShareProtocolReplica>(9));
    EXPECT_EQ(to_json(r)["share"], 9);
}

TEST(ProtoJson, StringsAreEscaped) {
    mayastor::JsonRpcReply reply;
    reply.set_result("{\n  \"a\": \"\\\\\"\n}\t\x01");
    EXPECT_EQ(json_text(reply), "{\n  \"result\": \"{\\n  \\\"a\\\": \\\"\\\\\\\\\\\"\\n}\\t\\u0001\"\n}");
    mayastor::CreateReply bad;
    bad.set_name(std::string("x\xff", 2));  // not UTF-8: replaced, not thrown
    EXPECT_NO_THROW(json_text(bad));
}

TEST(ProtoJson, SnapshotExtensionMessage) {
    mayastor::ReplicaSnapshot s;
    s.set_name("snap");
    s.add_clones("c1");
    s.set_timestamp(1714564800);
    EXPECT_EQ(json_text(s),
              "{\n"
              "  \"name\": \"snap\",\n"
              "  \"uuid\": \"\",\n"
              "  \"pool\": \"\",\n"
              "  \"replica\": \"\",\n"
              "  \"size\": 0,\n"
              "  \"allocated\": 0,\n"
              "  \"timestamp\": 1714564800,\n"
              "  \"clones\": [\n"
              "    \"c1\"\n"
              "  ]\n"
              "}");
}

TEST(ProtoJson, ArrayOfMessages) {
    Json children = Json::array();
    EXPECT_EQ(json_text(children), "[]");
    mayastor::Child c;
    c.set_uri("x");
    children.push_back(to_json(c));
    EXPECT_EQ(json_text(children),
              "[\n  {\n    \"uri\": \"x\",\n    \"state\": 0,\n    \"rebuild_progress\": 0\n  }\n]");
}

}  // namespace
}  // namespace ms::client
