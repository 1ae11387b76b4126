// Third-party NBD clients as subprocesses against the in-process server: nbdinfo, nbdcopy,
// qemu-img, qemu-io and fio's nbd engine. A case is skipped only when its tool is missing.
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "bdev/descriptor.h"
#include "target/nbd/nbd_test_util.h"

namespace ms::nbd::test {
namespace {

bool have(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string d;
    while (std::getline(dirs, d, ':')) {
        if (::access((d + "/" + tool).c_str(), X_OK) == 0) {
            return true;
        }
    }
    return false;
}

struct Run {
    int status = -1;
    std::string output;
};

// Runs `cmd` with a shell, stdout and stderr captured.
Run run(const std::string& cmd) {
    Run r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        r.output.append(buf, n);
    }
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

#define REQUIRE_TOOL(t)                            \
    do {                                           \
        if (!have(t)) {                            \
            GTEST_SKIP() << t << " not installed"; \
        }                                          \
    } while (0)

class NbdToolsTest : public NbdServerTest {
   protected:
    void SetUp() override {
        NbdServerTest::SetUp();
        char tmpl[] = "/tmp/ms-nbd-tools-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override {
        run("rm -rf " + dir);
        NbdServerTest::TearDown();
    }
    std::string write_file(const std::string& file, const std::vector<uint8_t>& data) {
        std::string path = dir + "/" + file;
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), data.size());
        return path;
    }
    std::vector<uint8_t> read_file(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
    }
    std::vector<uint8_t> device_bytes(uint64_t offset, std::size_t len) {
        auto d = dev;
        return run_on(rt->reactor(1), [d, offset, len]() -> Task<std::vector<uint8_t>> {
            auto desc = Descriptor::open(d, OpenMode::ReadOnly);
            auto buf = (*desc)->dma_malloc(len);
            EXPECT_TRUE(co_await (*desc)->read_at(offset, *buf));
            co_return std::vector<uint8_t>(buf->data(), buf->data() + len);
        });
    }
    std::string target() const { return local_uri(name); }

    std::string dir;
};

TEST_F(NbdToolsTest, NbdinfoSizeAndBlockSizes) {
    REQUIRE_TOOL("nbdinfo");
    auto r = run("nbdinfo --json " + target());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("\"export-size\": 16777216"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"block_size_minimum\": 512"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"block_size_preferred\": 4096"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"block_size_maximum\": 33554432"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"can_multi_conn\": true"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"can_flush\": true"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"structured\": true"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"description\": \"Malloc disk\""), std::string::npos) << r.output;
}

TEST_F(NbdToolsTest, NbdinfoList) {
    REQUIRE_TOOL("nbdinfo");
    auto other = make_device("malloc:///second?size_mb=2");
    target::ShareRequest req;
    req.device = other;
    ASSERT_TRUE(server->share(req));
    auto r = run(fmt::format("nbdinfo --list --json nbd://127.0.0.1:{}", server->port()));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("\"export-name\": \"nbd0\""), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"export-name\": \"second\""), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"export-size\": 2097152"), std::string::npos) << r.output;
}

TEST_F(NbdToolsTest, NbdcopyInAndOut) {
    REQUIRE_TOOL("nbdcopy");
    auto data = pattern(16u << 20, 31);
    auto in = write_file("in.img", data);
    auto r = run("nbdcopy " + in + " " + target());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(device_bytes(0, data.size()), data);
    std::string out = dir + "/out.img";
    r = run("nbdcopy " + target() + " " + out);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(read_file(out), data);
    // Several connections at once (nbdcopy uses multi-conn when the server allows it).
    r = run("nbdcopy --connections=4 --requests=32 " + target() + " " + dir + "/out4.img");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/out4.img"), data);
}

TEST_F(NbdToolsTest, QemuImgConvertAndCompare) {
    REQUIRE_TOOL("qemu-img");
    auto data = pattern(16u << 20, 32);
    auto in = write_file("in.img", data);
    auto r = run("qemu-img convert -n -f raw -O raw " + in + " " + target());
    ASSERT_EQ(r.status, 0) << r.output;
    r = run("qemu-img compare -f raw -F raw " + in + " " + target());
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(device_bytes(0, data.size()), data);
    // A changed block is seen as a difference (compare is not trivially true).
    data[5 << 20] ^= 0xff;
    auto changed = write_file("changed.img", data);
    r = run("qemu-img compare -f raw -F raw " + changed + " " + target());
    EXPECT_EQ(r.status, 1) << r.output;
}

TEST_F(NbdToolsTest, QemuIoPatterns) {
    REQUIRE_TOOL("qemu-io");
    auto r = run(
        "qemu-io -f raw -c 'write -P 0xab 0 64k' -c 'read -P 0xab 0 64k' -c 'write -z 64k 64k' -c 'flush' " +
        target());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output.find("failed"), std::string::npos) << r.output;
    EXPECT_EQ(device_bytes(0, 65536), std::vector<uint8_t>(65536, 0xab));
    // A wrong pattern is noticed.
    r = run("qemu-io -f raw -c 'read -P 0xcd 0 64k' " + target());
    EXPECT_NE(r.output.find("Pattern verification failed"), std::string::npos) << r.output;
}

TEST_F(NbdToolsTest, FioVerify) {
    REQUIRE_TOOL("fio");
    std::string base = "fio --name=nbdv --ioengine=nbd --uri=" + target() +
                       " --bs=4k --iodepth=32 --size=8m --verify=crc32c --do_verify=1 --verify_state_save=0"
                       " --output-format=normal";
    auto r = run(base + " --rw=randwrite");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("err= 0"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("verify:"), std::string::npos) << r.output;  // no verify failures
    // Mixed sizes and a read-back pass over what was written.
    r = run("fio --name=nbdm --ioengine=nbd --uri=" + target() +
            " --bsrange=512-128k --iodepth=16 --size=8m --offset=8m --rw=randrw --verify=crc32c --do_verify=1"
            " --verify_backlog=64 --verify_state_save=0");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("err= 0"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ms::nbd::test
