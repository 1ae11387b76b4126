#include "daemon_config.h"

#include <gtest/gtest.h>

#include "api/api_test_util.h"

namespace ms::daemon {
namespace {

TEST(DaemonConfig, ReadsEverySetting) {
    auto c = parse_daemon_config(R"(
reactor_mask: "0x3"
log_level: debug
busy_poll_us: 20
devices: ["malloc:///m0?size_mb=8", "null:///n0?size_mb=8"]
node_name: node-7
grpc_endpoint: "127.0.0.1:5000"
json_rpc_socket: /tmp/x.sock
store_endpoint: "etcd:2379"
pools_file: /tmp/pools.yaml
pools:
  - name: p1
    disks: ["malloc:///d1?size_mb=64"]
)",
                                 "test.yaml");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->reactor_mask, "0x3");
    EXPECT_FALSE(c->cores);
    EXPECT_EQ(c->log_level, "debug");
    EXPECT_EQ(c->busy_poll_us, 20u);
    EXPECT_EQ(c->devices.size(), 2u);
    EXPECT_EQ(c->node_name, "node-7");
    EXPECT_EQ(c->grpc_endpoint, "127.0.0.1:5000");
    EXPECT_EQ(c->json_rpc_socket, "/tmp/x.sock");
    EXPECT_EQ(c->store_endpoint, "etcd:2379");
    EXPECT_EQ(c->pools_file, "/tmp/pools.yaml");
    ASSERT_EQ(c->pools.size(), 1u);
    EXPECT_EQ(c->pools[0].name, "p1");
    EXPECT_EQ(c->pools[0].disks, std::vector<std::string>{"malloc:///d1?size_mb=64"});
}

TEST(DaemonConfig, NvmfSettings) {
    auto c = parse_daemon_config("nvmf_address: 127.0.0.1\nnvmf_replica_port: 18420\nnvmf_nexus_port: 0\n",
                                 "nvmf.yaml");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->nvmf_address, "127.0.0.1");
    EXPECT_EQ(c->nvmf_replica_port, 18420u);
    EXPECT_EQ(c->nvmf_nexus_port, 0u);
    auto bad = parse_daemon_config("nvmf_replica_port: 70000\n", "nvmf.yaml");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("nvmf_replica_port"), std::string::npos) << bad.error().message;
    auto none = parse_daemon_config("", "empty.yaml");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->nvmf_replica_port);
    EXPECT_FALSE(none->nvmf_address);
}

TEST(DaemonConfig, NbdSettings) {
    auto c = parse_daemon_config("nbd_address: 127.0.0.1\nnbd_port: 0\nnbd_socket: /tmp/x.nbd\n", "nbd.yaml");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->nbd_address, "127.0.0.1");
    EXPECT_EQ(c->nbd_port, 0u);
    EXPECT_EQ(c->nbd_socket, "/tmp/x.nbd");
    auto bad = parse_daemon_config("nbd_port: 65536\n", "nbd.yaml");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("nbd_port"), std::string::npos) << bad.error().message;
    auto typo = parse_daemon_config("nbd_prot: 1\n", "nbd.yaml");
    ASSERT_FALSE(typo);
    EXPECT_NE(typo.error().message.find("nbd_prot"), std::string::npos) << typo.error().message;
}

TEST(DaemonConfig, EmptyFileIsAllDefaults) {
    auto c = parse_daemon_config("", "empty.yaml");
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->grpc_endpoint);
    EXPECT_TRUE(c->pools.empty());
}

void expect_rejected(std::string_view text, std::string_view want) {
    auto c = parse_daemon_config(text, "bad.yaml");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code, EINVAL);
    EXPECT_NE(c.error().message.find(want), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("bad.yaml"), std::string::npos) << c.error().message;
}

TEST(DaemonConfig, RejectsUnknownKeysNamingThem) {
    expect_rejected("node_name: a\ngrpc_port: 10124\n", "unknown key 'grpc_port'");
    expect_rejected("node_name: a\ngrpc_port: 10124\n", "line 2");
    expect_rejected("pools:\n  - name: p\n    disks: [a]\n    size: 3\n", "unknown key 'size' in pool entry");
}

TEST(DaemonConfig, RejectsBadValues) {
    expect_rejected("busy_poll_us: fast\n", "'busy_poll_us' must be a non-negative integer");
    expect_rejected("busy_poll_us: -1\n", "'busy_poll_us' must be a non-negative integer");
    expect_rejected("node_name: [a, b]\n", "'node_name' must be a string");
    expect_rejected("devices: {a: 1}\n", "'devices' must be a list");
    expect_rejected("reactor_mask: '0x1'\ncores: '0'\n", "cannot be used together");
    expect_rejected("- a\n- b\n", "expected a map");
    expect_rejected("node_name: [unclosed\n", "invalid YAML");
    expect_rejected("pools: {name: p}\n", "'pools' must be a list");
    expect_rejected("pools:\n  - disks: [a]\n", "has no 'name'");
    expect_rejected("pools:\n  - name: p\n", "exactly one disk");
    expect_rejected("pools:\n  - name: p\n    disks: [a, b]\n", "exactly one disk");
    expect_rejected("pools:\n  - {name: p, disks: [a]}\n  - {name: p, disks: [b]}\n", "listed twice");
}

TEST(DaemonConfig, MissingFileIsAnError) {
    auto c = load_daemon_config("/nonexistent/mayastor.yaml");
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("/nonexistent/mayastor.yaml"), std::string::npos);
}

TEST(PoolsFile, RoundTripsAndRewritesAtomically) {
    api::test::TempDir dir;
    std::string path = dir.file("pools.yaml");
    auto f = PoolsFile::open(path);
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_TRUE((*f)->pools().empty());
    EXPECT_FALSE(std::filesystem::exists(path));  // created on first change

    ASSERT_TRUE((*f)->add({"p1", {"malloc:///a?size_mb=64"}}));
    ASSERT_TRUE((*f)->add({"p2", {"aio:///dev/sdb"}}));
    ASSERT_TRUE((*f)->add({"p1", {"malloc:///a?size_mb=64"}}));  // same: nothing changes
    auto again = PoolsFile::open(path);
    ASSERT_TRUE(again) << again.error().message;
    ASSERT_EQ((*again)->pools().size(), 2u);
    EXPECT_EQ((*again)->pools()[0], (PoolSpec{"p1", {"malloc:///a?size_mb=64"}}));
    EXPECT_EQ((*again)->pools()[1], (PoolSpec{"p2", {"aio:///dev/sdb"}}));

    ASSERT_TRUE((*f)->remove("p1"));
    ASSERT_TRUE((*f)->remove("unknown"));
    again = PoolsFile::open(path);
    ASSERT_TRUE(again);
    ASSERT_EQ((*again)->pools().size(), 1u);
    EXPECT_EQ((*again)->pools()[0].name, "p2");
    // No temporary files are left beside it.
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        (void)e;
        ++files;
    }
    EXPECT_EQ(files, 1);
}

TEST(PoolsFile, RejectsUnknownKeysAndBadFiles) {
    auto p = parse_pools_yaml("pools: []\nextra: 1\n", "p.yaml");
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("unknown key 'extra'"), std::string::npos);
    EXPECT_TRUE(parse_pools_yaml("", "p.yaml"));
    EXPECT_TRUE(parse_pools_yaml("pools:\n", "p.yaml"));
    // The upstream pools file format.
    auto up = parse_pools_yaml("pools:\n  - name: \"tpool\"\n    disks:\n      - \"/dev/sdb\"\n", "p.yaml");
    ASSERT_TRUE(up) << up.error().message;
    EXPECT_EQ((*up)[0].disks[0], "/dev/sdb");
}

TEST(PoolsFile, QuotesStrangeNames) {
    std::vector<PoolSpec> pools{{"a: b", {"malloc:///x?size_mb=8&blk_size=4096"}}, {"#c", {"- d"}}};
    auto back = parse_pools_yaml(pools_to_yaml(pools), "gen.yaml");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, pools);
}

}  // namespace
}  // namespace ms::daemon
