// kill -9 in the middle of puts: a child process overwrites keys round after round and reports
// each put that returned; the parent kills it at some point and opens the store. Every key must
// hold one whole value (the last acknowledged one or the one in flight), never a torn one, and
// no temp file may be left once the store is reopened.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>

#include "store/file_store.h"
#include "store_test_util.h"

namespace ms::test {
namespace {

constexpr uint32_t kKeys = 6;

std::string key_of(uint32_t k) {
    return "nexus/" + std::to_string(k);
}

// Value of key k at round r: a header naming both, then bytes from a generator seeded with
// both; lengths vary (1 byte to 192 KiB) so that a short or mixed file cannot pass.
std::string value_of(uint32_t k, uint32_t r) {
    std::string v = "k=" + std::to_string(k) + " r=" + std::to_string(r) + ";";
    std::mt19937 gen(k * 100003u + r);
    std::size_t len = 1 + gen() % (192 * 1024);
    v.reserve(v.size() + len);
    for (std::size_t i = 0; i < len; ++i) {
        v.push_back(static_cast<char>(gen()));
    }
    return v;
}

// The round a value says it is of, if it is exactly value_of(k, round).
std::optional<uint32_t> round_of(uint32_t k, const std::string& v) {
    unsigned kk = 0;
    unsigned r = 0;
    if (std::sscanf(v.c_str(), "k=%u r=%u;", &kk, &r) != 2 || kk != k || v != value_of(k, r)) {
        return std::nullopt;
    }
    return r;
}

struct Ack {
    uint32_t key;
    uint32_t round;
};

// The child: puts round after round, writing an Ack to `fd` after each put that returned.
[[noreturn]] void child_main(const std::string& dir, int fd) {
    auto s = store::FileStore::open(dir);
    if (!s) {
        ::_exit(2);
    }
    std::shared_ptr<store::KvStore> kv = *s;
    Runtime rt{RuntimeOptions{}};
    for (uint32_t r = 1;; ++r) {
        for (uint32_t k = 0; k < kKeys; ++k) {
            if (!put(rt, kv, key_of(k), value_of(k, r))) {
                ::_exit(3);
            }
            Ack a{k, r};
            if (::write(fd, &a, sizeof a) != static_cast<ssize_t>(sizeof a)) {
                ::_exit(4);
            }
        }
    }
}

// Kills the child when the test ends early.
struct ChildGuard {
    pid_t pid = -1;
    ~ChildGuard() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

TEST(FileStoreCrash, KillDuringPutsLeavesWholeValues) {
    // Kill after this many acknowledged puts: early, mid-round, and later.
    for (int kill_after : {1, 9, 20}) {
        SCOPED_TRACE(kill_after);
        TempDir tmp;
        {
            auto s = store::FileStore::open(tmp.path());
            ASSERT_TRUE(s) << describe(s);
            Runtime rt{RuntimeOptions{}};
            std::shared_ptr<store::KvStore> kv = *s;
            for (uint32_t k = 0; k < kKeys; ++k) {
                ASSERT_TRUE(put(rt, kv, key_of(k), value_of(k, 0)));
            }
        }
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        ChildGuard child;
        child.pid = ::fork();
        ASSERT_GE(child.pid, 0);
        if (child.pid == 0) {
            ::close(fds[0]);
            child_main(tmp.path(), fds[1]);
        }
        ::close(fds[1]);
        std::map<uint32_t, uint32_t> acked;  // key -> last round acknowledged
        auto read_ack = [&] {
            Ack a{};
            ssize_t n = ::read(fds[0], &a, sizeof a);
            if (n == static_cast<ssize_t>(sizeof a)) {
                acked[a.key] = a.round;
                return true;
            }
            return false;
        };
        for (int i = 0; i < kill_after; ++i) {
            ASSERT_TRUE(read_ack()) << "the child stopped early";
        }
        ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
        child.pid = -1;
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
        while (read_ack()) {  // acks written before the kill
        }
        ::close(fds[0]);

        auto s = store::FileStore::open(tmp.path());
        ASSERT_TRUE(s) << describe(s);
        for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
            EXPECT_EQ(e.path().extension(), ".kv") << e.path() << " left after reopening";
        }
        Runtime rt{RuntimeOptions{}};
        std::shared_ptr<store::KvStore> kv = *s;
        auto all = list(rt, kv, "");
        ASSERT_TRUE(all) << describe(all);
        ASSERT_EQ(all->size(), kKeys);
        for (uint32_t k = 0; k < kKeys; ++k) {
            const auto& [key, value] = (*all)[k];
            EXPECT_EQ(key, key_of(k));
            auto r = round_of(k, value);
            ASSERT_TRUE(r) << key << " holds a torn or foreign value (" << value.size() << " bytes)";
            uint32_t last = acked.contains(k) ? acked[k] : 0;
            // The acknowledged value, or the one put after it (in flight at the kill).
            EXPECT_TRUE(*r == last || *r == last + 1) << key << ": round " << *r << ", acked " << last;
        }
    }
}

}  // namespace
}  // namespace ms::test
