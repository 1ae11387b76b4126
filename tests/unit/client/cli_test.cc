// The whole client (command line, connection, output, exit codes) against an in-process fake
// of the Mayastor services: the README transcript byte for byte, the fields each request
// carries, errors, -v / -q / -o json, syntax errors.
#include "mayastor-client/cli.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mayastor.grpc.pb.h"

namespace ms::client {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

// Pools and replicas in memory; every request kept (method name and a copy).
class FakeMayastor final : public mayastor::Mayastor::Service {
   public:
    struct Call {
        std::string method;
        std::shared_ptr<google::protobuf::Message> request;
    };

    std::vector<Call> calls() {
        std::lock_guard lock(mu_);
        return calls_;
    }
    void clear() {
        std::lock_guard lock(mu_);
        calls_.clear();
    }

    grpc::Status CreatePool(grpc::ServerContext*, const mayastor::CreatePoolRequest* req,
                            mayastor::Pool* rep) override {
        record("CreatePool", *req);
        std::lock_guard lock(mu_);
        rep->set_name(req->name());
        for (const auto& d : req->disks()) {
            rep->add_disks((d.find("://") == std::string::npos ? "aio://" + d : d) + "?uuid=0d8ac6a4");
        }
        rep->set_state(mayastor::POOL_ONLINE);
        rep->set_capacity(96 * MiB);
        pools_.push_back(*rep);
        return grpc::Status::OK;
    }
    grpc::Status DestroyPool(grpc::ServerContext*, const mayastor::DestroyPoolRequest* req,
                             mayastor::Null*) override {
        record("DestroyPool", *req);
        std::lock_guard lock(mu_);
        std::erase_if(pools_, [&](const auto& p) { return p.name() == req->name(); });
        return grpc::Status::OK;
    }
    grpc::Status ListPools(grpc::ServerContext*, const mayastor::Null* req,
                           mayastor::ListPoolsReply* rep) override {
        record("ListPools", *req);
        std::lock_guard lock(mu_);
        for (const auto& p : pools_) {
            *rep->add_pools() = p;
        }
        return grpc::Status::OK;
    }
    grpc::Status CreateReplica(grpc::ServerContext*, const mayastor::CreateReplicaRequest* req,
                               mayastor::Replica* rep) override {
        record("CreateReplica", *req);
        std::lock_guard lock(mu_);
        rep->set_uuid(req->uuid());
        rep->set_pool(req->pool());
        rep->set_thin(req->thin());
        rep->set_size(req->size());
        rep->set_share(req->share());
        rep->set_uri("bdev:///" + req->uuid() + "?uuid=1111");
        replicas_.push_back(*rep);
        return grpc::Status::OK;
    }
    grpc::Status DestroyReplica(grpc::ServerContext*, const mayastor::DestroyReplicaRequest* req,
                                mayastor::Null*) override {
        record("DestroyReplica", *req);
        std::lock_guard lock(mu_);
        std::erase_if(replicas_, [&](const auto& r) { return r.uuid() == req->uuid(); });
        return grpc::Status::OK;
    }
    grpc::Status ListReplicas(grpc::ServerContext*, const mayastor::Null* req,
                              mayastor::ListReplicasReply* rep) override {
        record("ListReplicas", *req);
        std::lock_guard lock(mu_);
        for (const auto& r : replicas_) {
            *rep->add_replicas() = r;
        }
        return grpc::Status::OK;
    }
    grpc::Status PublishNexus(grpc::ServerContext*, const mayastor::PublishNexusRequest* req,
                              mayastor::PublishNexusReply* rep) override {
        record("PublishNexus", *req);
        rep->set_device_uri("file:///dev/nbd0");
        return grpc::Status::OK;
    }
    grpc::Status UnpublishNexus(grpc::ServerContext*, const mayastor::UnpublishNexusRequest* req,
                                mayastor::Null*) override {
        record("UnpublishNexus", *req);
        return {grpc::StatusCode::NOT_FOUND, "nexus \"" + req->uuid() + "\" not found"};
    }
    grpc::Status AddChildNexus(grpc::ServerContext*, const mayastor::AddChildNexusRequest* req,
                               mayastor::Child* rep) override {
        record("AddChildNexus", *req);
        rep->set_uri(req->uri());
        rep->set_state(mayastor::CHILD_DEGRADED);
        return grpc::Status::OK;
    }
    grpc::Status ShareReplica(grpc::ServerContext*, const mayastor::ShareReplicaRequest* req,
                              mayastor::ShareReplicaReply* rep) override {
        record("ShareReplica", *req);
        rep->set_uri(req->share() == mayastor::REPLICA_NVMF
                         ? "nvmf://10.0.0.1:8420/nqn.2019-05.io.openebs:" + req->uuid() + "?uuid=1111"
                         : "bdev:///" + req->uuid() + "?uuid=1111");
        return grpc::Status::OK;
    }
    grpc::Status GetNvmeAnaState(grpc::ServerContext*, const mayastor::GetNvmeAnaStateRequest* req,
                                 mayastor::GetNvmeAnaStateReply* rep) override {
        record("GetNvmeAnaState", *req);
        rep->set_ana_state(mayastor::NVME_ANA_NON_OPTIMIZED_STATE);
        return grpc::Status::OK;
    }
    grpc::Status SetNvmeAnaState(grpc::ServerContext*, const mayastor::SetNvmeAnaStateRequest* req,
                                 mayastor::Null*) override {
        record("SetNvmeAnaState", *req);
        return grpc::Status::OK;
    }
    grpc::Status ListNvmeControllers(grpc::ServerContext*, const mayastor::Null* req,
                                     mayastor::ListNvmeControllersReply* rep) override {
        record("ListNvmeControllers", *req);
        std::lock_guard lock(mu_);
        for (const auto& c : controllers_) {
            *rep->add_controllers() = c;
        }
        return grpc::Status::OK;
    }
    void add_controller(const mayastor::NvmeController& c) {
        std::lock_guard lock(mu_);
        controllers_.push_back(c);
    }

   private:
    void record(const std::string& method, const google::protobuf::Message& request) {
        std::shared_ptr<google::protobuf::Message> copy(request.New());
        copy->CopyFrom(request);
        std::lock_guard lock(mu_);
        calls_.push_back({method, std::move(copy)});
    }

    std::mutex mu_;
    std::vector<Call> calls_;
    std::vector<mayastor::Pool> pools_;
    std::vector<mayastor::Replica> replicas_;
    std::vector<mayastor::NvmeController> controllers_;
};

class FakeBdev final : public mayastor::BdevRpc::Service {
   public:
    grpc::Status Share(grpc::ServerContext*, const mayastor::BdevShareRequest* req,
                       mayastor::BdevShareReply* rep) override {
        std::lock_guard lock(mu_);
        last_share = *req;
        rep->set_uri("nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:" + req->name());
        return grpc::Status::OK;
    }
    std::mutex mu_;
    mayastor::BdevShareRequest last_share;
};

struct Result {
    int exit = -1;
    std::string out;
    std::string err;
};

class ClientTest : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        grpc::ServerBuilder builder;
        builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
        builder.RegisterService(&fake_);
        builder.RegisterService(&bdev_);
        server_ = builder.BuildAndStart();
        ASSERT_NE(server_, nullptr);
        ASSERT_GT(port_, 0);
    }
    static void TearDownTestSuite() {
        server_->Shutdown();
        server_.reset();
    }
    void SetUp() override { fake_.clear(); }

    // mayastor-client -b 127.0.0.1:<fake> <args>
    static Result run(std::vector<std::string> args, bool bind = true) {
        if (bind) {
            args.insert(args.begin(), {"-b", "127.0.0.1:" + std::to_string(port_)});
        }
        args.insert(args.begin(), "mayastor-client");
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        Result r;
        ::testing::internal::CaptureStdout();
        ::testing::internal::CaptureStderr();
        {
            Cli cli;
            add_all_commands(cli);
            r.exit = cli.run(static_cast<int>(argv.size()), argv.data());
        }
        r.out = ::testing::internal::GetCapturedStdout();
        r.err = ::testing::internal::GetCapturedStderr();
        return r;
    }

    static std::vector<std::string> methods() {
        std::vector<std::string> m;
        for (const auto& c : fake_.calls()) {
            m.push_back(c.method);
        }
        return m;
    }

    template <class T>
    static T last(const std::string& method) {
        for (const auto& c : fake_.calls()) {
            if (c.method == method) {
                T copy;
                copy.CopyFrom(*c.request);
                return copy;
            }
        }
        ADD_FAILURE() << "no " << method << " call";
        return T();
    }

    static inline FakeMayastor fake_;
    static inline FakeBdev bdev_;
    static inline std::unique_ptr<grpc::Server> server_;
    static inline int port_ = 0;
};

TEST_F(ClientTest, ReadmeTranscript) {
    struct Step {
        std::vector<std::string> args;
        std::string out;
    };
    const std::vector<Step> steps = {
        {{"pool", "create", "tpool", "/dev/loop8"}, ""},
        {{"pool", "list"},
         "NAME                 STATE        CAPACITY         USED   DISKS\n"
         "tpool                online       96.0 MiB          0 B   /dev/loop8\n"},
        {{"replica", "create", "tpool", "replica1", "--size=10"}, ""},
        {{"replica", "create", "tpool", "replica2", "--size=1000", "--thin"}, ""},
        {{"replica", "list"},
         "POOL                 NAME                 THIN           SIZE\n"
         "tpool                replica1             false       10.0 MiB\n"
         "tpool                replica2             true         1.0 GiB\n"},
        {{"replica", "destroy", "tpool", "replica1"}, ""},
        {{"replica", "destroy", "tpool", "replica2"}, ""},
        {{"replica", "list"}, "No replicas have been created\n"},
        {{"pool", "destroy", "tpool"}, ""},
    };
    for (const auto& step : steps) {
        auto r = run(step.args);
        EXPECT_EQ(r.exit, 0) << step.args[0] << " " << step.args[1] << ": " << r.err;
        EXPECT_EQ(r.out, step.out) << step.args[0] << " " << step.args[1];
        EXPECT_EQ(r.err, "");
    }
    auto create = last<mayastor::CreateReplicaRequest>("CreateReplica");
    EXPECT_EQ(create.size(), 10 * MiB);
    EXPECT_EQ(create.share(), mayastor::REPLICA_NONE);
    EXPECT_FALSE(create.thin());
    auto pool = last<mayastor::CreatePoolRequest>("CreatePool");
    EXPECT_EQ(pool.name(), "tpool");
    ASSERT_EQ(pool.disks_size(), 1);
    EXPECT_EQ(pool.disks(0), "/dev/loop8");
}

TEST_F(ClientTest, VerboseAndJsonForCommandsThatChangeSomething) {
    auto r = run({"-v", "pool", "create", "p", "/dev/sdb"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, "Connecting to http://127.0.0.1:" + std::to_string(port_) + "/\np\n");
    r = run({"replica", "create", "p", "r", "-s", "1GiB", "-v"});
    EXPECT_EQ(r.out, "Connecting to http://127.0.0.1:" + std::to_string(port_) + "/\nbdev:///r?uuid=1111\n");
    EXPECT_EQ(last<mayastor::CreateReplicaRequest>("CreateReplica").size(), 1024 * MiB);
    r = run({"replica", "destroy", "r", "-o", "json"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, "{}\n");
    r = run({"-q", "pool", "list"});
    EXPECT_EQ(r.out, "p online 96.0 MiB 0 B /dev/sdb\n");
    r = run({"-u", "b", "pool", "destroy", "p", "-o", "json"});
    EXPECT_EQ(r.out, "{}\n");
}

TEST_F(ClientTest, ServerErrorGoesToStderrWithExitOne) {
    auto r = run({"nexus", "unpublish", "n1"});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(
        r.err,
        "Error: GrpcStatus { source: Status { code: NotFound, message: \"nexus \\\"n1\\\" not found\" } }\n");
}

TEST_F(ClientTest, ClientSideChecksSendNothing) {
    auto r = run({"replica", "create", "p", "r", "--size", "10X"});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(
        r.err,
        "Error: GrpcStatus { source: Status { code: InvalidArgument, message: \"Bad size '10X'\" } }\n");
    r = run({"replica", "create", "p", "r", "--size", "10", "-p", "smb"});
    EXPECT_EQ(r.err,
              "Error: GrpcStatus { source: Status { code: Internal, message: \"Invalid value of share "
              "protocol\" } }\n");
    r = run({"nexus", "publish", "-p", "nbd", "n1"});
    EXPECT_EQ(r.exit, 1);
    r = run({"nexus", "create", "n1", "1Q", "bdev:///a"});
    EXPECT_NE(r.err.find("Bad size '1Q'"), std::string::npos);
    EXPECT_TRUE(methods().empty());
}

TEST_F(ClientTest, ReplicaDestroyChecksThePool) {
    ASSERT_EQ(run({"pool", "create", "p1", "/dev/sdb"}).exit, 0);
    ASSERT_EQ(run({"replica", "create", "p1", "r1", "-s", "4"}).exit, 0);
    fake_.clear();
    auto r = run({"replica", "destroy", "p2", "r1"});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.err,
              "Error: GrpcStatus { source: Status { code: InvalidArgument, message: \"Replica r1 is in pool "
              "p1, not in "
              "pool p2\" } }\n");
    EXPECT_EQ(methods(), std::vector<std::string>{"ListReplicas"});
    fake_.clear();
    EXPECT_EQ(run({"replica", "destroy", "p2", "unknown"}).exit, 0);  // unknown: still sent
    EXPECT_EQ(methods(), (std::vector<std::string>{"ListReplicas", "DestroyReplica"}));
    fake_.clear();
    EXPECT_EQ(run({"replica", "destroy", "p1", "r1"}).exit, 0);
    EXPECT_EQ(last<mayastor::DestroyReplicaRequest>("DestroyReplica").uuid(), "r1");
    fake_.clear();
    EXPECT_EQ(run({"replica", "destroy", "r1"}).exit, 0);  // without a pool: no list
    EXPECT_EQ(methods(), std::vector<std::string>{"DestroyReplica"});
    run({"pool", "destroy", "p1"});
}

TEST_F(ClientTest, RequestsCarryOnlyTheirFields) {
    EXPECT_EQ(run({"nexus", "publish", "n1"}).exit, 0);
    auto publish = last<mayastor::PublishNexusRequest>("PublishNexus");
    EXPECT_EQ(publish.ByteSizeLong(), publish.uuid().size() + 2u);  // only `uuid` on the wire
    EXPECT_EQ(publish.share(), mayastor::NEXUS_NBD);
    fake_.clear();
    EXPECT_EQ(run({"nexus", "publish", "-p", "iscsi", "n1", "0123456789abcdef"}).exit, 0);
    publish = last<mayastor::PublishNexusRequest>("PublishNexus");
    EXPECT_EQ(publish.share(), mayastor::NEXUS_ISCSI);
    EXPECT_EQ(publish.key(), "0123456789abcdef");
    fake_.clear();
    EXPECT_EQ(run({"nexus", "add", "n1", "bdev:///r2"}).exit, 0);
    EXPECT_FALSE(last<mayastor::AddChildNexusRequest>("AddChildNexus").norebuild());
    fake_.clear();
    EXPECT_EQ(run({"nexus", "add", "n1", "bdev:///r2", "true"}).exit, 0);
    EXPECT_TRUE(last<mayastor::AddChildNexusRequest>("AddChildNexus").norebuild());
    auto r = run({"bdev", "share", "m0", "-v"});
    EXPECT_NE(r.out.find("nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:m0\n"), std::string::npos);
    {
        std::lock_guard lock(bdev_.mu_);
        EXPECT_EQ(bdev_.last_share.proto(), "nvmf");
    }
    EXPECT_EQ(run({"bdev", "share", "m0", "-p", "nbd"}).exit, 0);
    std::lock_guard lock(bdev_.mu_);
    EXPECT_EQ(bdev_.last_share.proto(), "nbd");
}

TEST_F(ClientTest, HelpAndSyntaxErrors) {
    auto r = run({"--help"}, false);
    EXPECT_EQ(r.exit, 0);
    EXPECT_NE(r.out.find("pool"), std::string::npos);
    EXPECT_EQ(r.err, "");
    r = run({"replica", "create", "--help"}, false);
    EXPECT_EQ(r.exit, 0);
    EXPECT_NE(r.out.find("--size"), std::string::npos);

    r = run({"pool"}, false);  // a group alone: its help, failure
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("create"), std::string::npos);
    EXPECT_EQ(run({}, false).exit, 1);
    EXPECT_EQ(run({"nexus", "child"}, false).exit, 1);

    for (std::vector<std::string> bad : {std::vector<std::string>{"pool", "create", "p"},
                                         {"pool", "frobnicate"},
                                         {"pool", "destroy", "a", "b"},
                                         {"replica", "create", "p", "r"},
                                         {"pool", "list", "-q"},
                                         {"pool", "list", "-u", "i"},
                                         {"-u", "x", "pool", "list"},
                                         {"-o", "yaml", "pool", "list"},
                                         {"-q", "-v", "pool", "list"},
                                         {"bdev", "share", "m0", "-p", "vhost"},
                                         {"nexus", "ana_state", "n1", "change"}}) {
        r = run(bad, false);
        EXPECT_EQ(r.exit, 1) << bad[0] << " " << bad[1];
        EXPECT_EQ(r.out, "") << bad[0] << " " << bad[1];
        EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    }
    EXPECT_TRUE(methods().empty());
}

TEST_F(ClientTest, NvmfCommands) {
    // Commands that change something print at -v only (docs/cli.md), after the Connecting line.
    std::string connecting = "Connecting to http://127.0.0.1:" + std::to_string(port_) + "/\n";
    auto r = run({"replica", "share", "r1", "nvmf", "-v"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, connecting + "nvmf://10.0.0.1:8420/nqn.2019-05.io.openebs:r1?uuid=1111\n");
    EXPECT_EQ(last<mayastor::ShareReplicaRequest>("ShareReplica").share(), mayastor::REPLICA_NVMF);
    fake_.clear();
    r = run({"replica", "share", "r1", "none"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(last<mayastor::ShareReplicaRequest>("ShareReplica").share(), mayastor::REPLICA_NONE);
    fake_.clear();
    r = run({"replica", "share", "r1", "smb"});
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.err,
              "Error: GrpcStatus { source: Status { code: Internal, message: \"Invalid value of share "
              "protocol\" } }\n");
    EXPECT_TRUE(methods().empty());

    EXPECT_EQ(run({"nexus", "publish", "-p", "nvmf", "n1"}).exit, 0);
    EXPECT_EQ(last<mayastor::PublishNexusRequest>("PublishNexus").share(), mayastor::NEXUS_NVMF);

    // ana_state prints words whatever -o says; nothing with -q.
    EXPECT_EQ(run({"nexus", "ana_state", "n1"}).out, "non_optimized\n");
    EXPECT_EQ(run({"nexus", "ana_state", "n1", "-o", "json"}).out, "non_optimized\n");
    EXPECT_EQ(run({"-q", "nexus", "ana_state", "n1"}).out, "");
    r = run({"nexus", "ana_state", "n1", "inaccessible", "-v"});
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, connecting + "n1\n");
    auto set = last<mayastor::SetNvmeAnaStateRequest>("SetNvmeAnaState");
    EXPECT_EQ(set.uuid(), "n1");
    EXPECT_EQ(set.ana_state(), mayastor::NVME_ANA_INACCESSIBLE_STATE);
    fake_.clear();
    EXPECT_EQ(run({"-q", "nexus", "ana_state", "n1", "optimized"}).out, "");
    EXPECT_EQ(last<mayastor::SetNvmeAnaStateRequest>("SetNvmeAnaState").ana_state(),
              mayastor::NVME_ANA_OPTIMIZED_STATE);

    EXPECT_EQ(run({"controller", "list"}).out, "No NVMe controllers found\n");
    EXPECT_EQ(run({"-q", "controller", "list"}).out, "");
    mayastor::NvmeController c;
    c.set_name("127.0.0.1:8420/nqn.2019-05.io.openebs:r1n1");
    c.set_state(mayastor::RUNNING);
    c.set_size(8 * MiB);
    c.set_blk_size(512);
    fake_.add_controller(c);
    EXPECT_EQ(run({"controller", "list"}).out,
              "NAMEs                                      SIZE    STATE   BLKSIZE\n"
              "127.0.0.1:8420/nqn.2019-05.io.openebs:r1n1 8388608 running 512    \n");
    EXPECT_EQ(run({"-q", "controller", "list"}).out,
              "127.0.0.1:8420/nqn.2019-05.io.openebs:r1n1 8388608 running 512\n");
}

TEST_F(ClientTest, GlobalOptionsAfterTheSubcommand) {
    auto r = run({"pool", "list", "-b", "127.0.0.1:" + std::to_string(port_), "-o", "JSON"}, false);
    EXPECT_EQ(r.exit, 0);
    EXPECT_EQ(r.out, "{\n  \"pools\": []\n}\n");
    r = run({"pool", "list", "-vv"});
    EXPECT_EQ(r.out, "Connecting to http://127.0.0.1:" + std::to_string(port_) +
                         "/\nRequesting a list of pools\nNo pools found\n");
}

TEST_F(ClientTest, BadBindAndUnreachableServer) {
    auto r = run({"-b", "host:99999", "pool", "list"}, false);
    EXPECT_EQ(r.exit, 1);
    EXPECT_EQ(r.err, "Error: ContextError { source: InvalidUri { uri: \"host:99999\" } }\n");
    r = run({"-b", "127.0.0.1:1", "pool", "list"}, false);
    EXPECT_EQ(r.exit, kExitUnreachable);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("cannot connect to http://127.0.0.1:1/"), std::string::npos);
}

}  // namespace
}  // namespace ms::client
