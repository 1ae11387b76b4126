// EtcdStore against a real etcd (Debian's etcd-server, /usr/bin/etcd) that the test starts on
// 127.0.0.1 with free ports and a temp data directory, restarts and stops by its PID.
#include "store/etcd_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "store/open_store.h"
#include "store_test_util.h"

namespace ms::test {
namespace {

using namespace std::chrono_literals;
using store::EtcdStore;

constexpr const char* kEtcd = "/usr/bin/etcd";

// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ADD_FAILURE() << "cannot pick a free port";
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// One etcd member on 127.0.0.1, data in `dir`/data, its output in `dir`/etcd.log.
class EtcdServer {
   public:
    explicit EtcdServer(std::string dir) : _dir(std::move(dir)), _client(free_port()), _peer(free_port()) {}
    ~EtcdServer() { stop(); }

    std::string endpoint() const { return "127.0.0.1:" + std::to_string(_client); }

    // Starts etcd and waits until it answers a read (a store opened with a long deadline
    // waits for the connection, so no polling with sleeps).
    void start() {
        std::string client_url = "http://" + endpoint();
        std::string peer_url = "http://127.0.0.1:" + std::to_string(_peer);
        std::vector<std::string> args = {kEtcd,
                                         "--name=ms-test",
                                         "--data-dir=" + _dir + "/data",
                                         "--listen-client-urls=" + client_url,
                                         "--advertise-client-urls=" + client_url,
                                         "--listen-peer-urls=" + peer_url,
                                         "--initial-advertise-peer-urls=" + peer_url,
                                         "--initial-cluster=ms-test=" + peer_url,
                                         "--logger=zap",
                                         "--log-outputs=stderr"};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        std::string log = _dir + "/etcd.log";
        // fork + exec rather than posix_spawn: the child asks to be killed if this test process
        // dies, so that no etcd outlives a crashed test.
        pid_t parent = ::getpid();
        _pid = ::fork();
        ASSERT_GE(_pid, 0) << "fork";
        if (_pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) {
                ::_exit(127);
            }
            int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) {
                ::_exit(127);
            }
            ::execv(kEtcd, argv.data());
            ::_exit(127);
        }
        store::EtcdOptions o;
        o.timeout = 15s;
        auto probe = EtcdStore::open(endpoint(), o);
        ASSERT_TRUE(probe) << describe(probe) << "\netcd log:\n" << read_text(log);
    }

    // SIGTERM to our etcd, by its PID, and wait for it to exit.
    void stop() {
        if (_pid > 0) {
            ::kill(_pid, SIGTERM);
            ::waitpid(_pid, nullptr, 0);
            _pid = -1;
        }
    }

   private:
    std::string _dir;
    uint16_t _client;
    uint16_t _peer;
    pid_t _pid = -1;
};

class EtcdStoreTest : public ::testing::Test {
   protected:
    void SetUp() override {
        if (::access(kEtcd, X_OK) != 0) {
            GTEST_SKIP() << kEtcd << " is missing: install Debian's etcd-server (scripts/install-deps.sh)";
        }
    }
    TempDir _tmp;
    Runtime _rt{RuntimeOptions{}};
};

TEST(EtcdPrefixEnd, IsThePrefixWithItsLastByteIncremented) {
    EXPECT_EQ(store::etcd_prefix_end("nexus/"), "nexus0");
    EXPECT_EQ(store::etcd_prefix_end("a"), "b");
    EXPECT_EQ(store::etcd_prefix_end("a\xff"), "b");
    EXPECT_EQ(store::etcd_prefix_end("a\xfe\xff\xff"), "a\xff");
    EXPECT_EQ(store::etcd_prefix_end(""), std::string(1, '\0'));
    EXPECT_EQ(store::etcd_prefix_end("\xff\xff"), std::string(1, '\0'));
}

TEST_F(EtcdStoreTest, PutGetListRemoveSurviveARestartAndFailClearlyWhenDown) {
    EtcdServer etcd(_tmp.path());
    ASSERT_NO_FATAL_FAILURE(etcd.start());
    store::StoreSpec spec;
    spec.etcd_endpoint = etcd.endpoint();
    spec.etcd.timeout = 3s;
    auto opened = store::open_store(spec);
    ASSERT_TRUE(opened) << describe(opened);
    std::shared_ptr<store::KvStore> s = *opened;
    EXPECT_EQ(s->describe(), "etcd:" + etcd.endpoint());

    EXPECT_FALSE(get(_rt, s, "nexus/a").value());
    std::string binary = binary_value(100000, 9);
    ASSERT_TRUE(put(_rt, s, "nexus/b", "two"));
    ASSERT_TRUE(put(_rt, s, "nexus/a", "one"));
    ASSERT_TRUE(put(_rt, s, "nexus0", "after the prefix"));
    ASSERT_TRUE(put(_rt, s, "nexus/bin", binary));
    ASSERT_TRUE(put(_rt, s, "nexus/b", "two, again"));
    EXPECT_EQ(get(_rt, s, "nexus/a").value(), std::optional<std::string>("one"));
    EXPECT_EQ(get(_rt, s, "nexus/bin").value(), std::optional<std::string>(binary));
    KvPairs nexuses{{"nexus/a", "one"}, {"nexus/b", "two, again"}, {"nexus/bin", binary}};
    EXPECT_EQ(list(_rt, s, "nexus/").value(), nexuses);
    EXPECT_EQ(list(_rt, s, "").value().size(), 4u);
    ASSERT_TRUE(remove(_rt, s, "nexus/a"));
    ASSERT_TRUE(remove(_rt, s, "nexus/missing"));
    EXPECT_FALSE(get(_rt, s, "nexus/a").value());
    nexuses.erase(nexuses.begin());
    EXPECT_EQ(list(_rt, s, "nexus/").value(), nexuses);
    EXPECT_EQ(put(_rt, s, "", "v").error().code, EINVAL);

    // Restart: the data is still there, and the same store object reconnects.
    etcd.stop();
    ASSERT_NO_FATAL_FAILURE(etcd.start());
    auto after = list(_rt, s, "nexus/");
    ASSERT_TRUE(after) << describe(after);
    EXPECT_EQ(*after, nexuses);
    ASSERT_TRUE(put(_rt, s, "nexus/c", "three"));
    EXPECT_EQ(get(_rt, s, "nexus/c").value(), std::optional<std::string>("three"));

    // Down: a clear error naming the endpoint, within the deadline.
    etcd.stop();
    auto t0 = std::chrono::steady_clock::now();
    auto down = get(_rt, s, "nexus/c");
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, ECONNREFUSED) << down.error().to_string();
    EXPECT_NE(down.error().message.find(etcd.endpoint()), std::string::npos) << down.error().message;
    EXPECT_NE(down.error().message.find("unreachable"), std::string::npos) << down.error().message;
    EXPECT_LT(took, 3s + 2s);
    auto put_down = put(_rt, s, "nexus/d", "four");
    ASSERT_FALSE(put_down);
    EXPECT_EQ(put_down.error().code, ECONNREFUSED) << put_down.error().to_string();
}

TEST_F(EtcdStoreTest, OpeningAnEndpointWhereNothingListensFails) {
    store::StoreSpec spec;
    spec.etcd_endpoint = "127.0.0.1:" + std::to_string(free_port());
    spec.etcd.timeout = 1s;
    auto s = store::open_store(spec);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ECONNREFUSED) << s.error().to_string();
    EXPECT_NE(s.error().message.find(spec.etcd_endpoint), std::string::npos) << s.error().message;
}

}  // namespace
}  // namespace ms::test
