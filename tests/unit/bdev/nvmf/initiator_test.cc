// The initiator tool (tools/initiator) run as a separate process against our target in this
// process: connect, write a block and read it back, identify controller, raw admin commands,
// and the errors (bad URI, nobody listening, unknown subsystem) with exit status 1.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>

#include "../bdev_test_util.h"
#include "target/nvmf/nvmf_target.h"

#ifndef MS_INITIATOR_BIN
#error "MS_INITIATOR_BIN must name the initiator binary"
#endif

namespace ms::test {
namespace {

struct ToolRun {
    int exit_code = -1;
    std::string output;  // stdout and stderr
};

ToolRun initiator(const std::string& args) {
    int status = 0;
    ToolRun r;
    r.output = command_output(fmt::format("{} {} 2>&1", MS_INITIATOR_BIN, args), &status);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::vector<uint8_t> slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, std::span<const uint8_t> data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

class InitiatorTool : public ::testing::Test {
   protected:
    void SetUp() override {
        _rt = std::make_unique<Runtime>(RuntimeOptions{});
        auto dev = create(*_rt, "malloc:///initiator_backing?size_mb=8&blk_size=512");
        ASSERT_TRUE(is_ok(dev));
        _dev = *dev;
        nvmf::TargetOptions o;
        o.listen_address = "127.0.0.1";
        o.advertised_address = "127.0.0.1";
        o.replica_port = 0;
        o.nexus_port = 0;
        auto t = nvmf::NvmfTarget::start(*_rt, o);
        ASSERT_TRUE(is_ok(t));
        _target = std::move(*t);
        nvmf::SubsystemSpec spec;
        spec.device = _dev;
        auto nqn = _target->add_subsystem(spec);
        ASSERT_TRUE(is_ok(nqn));
        _uri = _target->uri_for(*nqn);
    }
    void TearDown() override {
        _target.reset();
        _dev.reset();
        if (_rt) {
            destroy(*_rt, "initiator_backing");
        }
        _rt.reset();
    }

    TempDir _dir;
    std::unique_ptr<Runtime> _rt;
    std::shared_ptr<BlockDevice> _dev;
    std::unique_ptr<nvmf::NvmfTarget> _target;
    std::string _uri;
};

TEST_F(InitiatorTool, HelpAndBadArguments) {
    ToolRun help = initiator("--help");
    EXPECT_EQ(help.exit_code, 0);
    for (const char* word :
         {"connect", "read", "write", "nvme-admin", "id-ctrlr", "create-snapshot", "--offset"}) {
        EXPECT_NE(help.output.find(word), std::string::npos) << word;
    }
    ToolRun none = initiator("");
    EXPECT_EQ(none.exit_code, 1);
    ToolRun bad = initiator("'nvmf:///no-host' connect");
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.output.find("no host"), std::string::npos) << bad.output;
    ToolRun unknown = initiator("'nvmf://127.0.0.1:1/nqn.2019-05.io.openebs:x' connect");
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.output.find("refused"), std::string::npos) << unknown.output;
}

TEST_F(InitiatorTool, ConnectWriteReadIdentify) {
    ToolRun c = initiator(fmt::format("'{}' connect", _uri));
    ASSERT_EQ(c.exit_code, 0) << c.output;
    EXPECT_NE(c.output.find("blocks:     16384"), std::string::npos) << c.output;
    EXPECT_NE(c.output.find(_dev->uuid().to_string()), std::string::npos) << c.output;

    auto data = random_bytes(512, 7);
    std::string in = _dir.file("in.bin");
    std::string out = _dir.file("out.bin");
    spit(in, data);
    ToolRun w = initiator(fmt::format("'{}' --offset 4096 write {}", _uri, in));
    ASSERT_EQ(w.exit_code, 0) << w.output;
    ToolRun r = initiator(fmt::format("'{}' --offset 4096 read {}", _uri, out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(same_bytes(slurp(out), data));
    // The block really is on the target's device.
    auto d = Descriptor::open(_dev, OpenMode::ReadOnly);
    ASSERT_TRUE(is_ok(d));
    auto direct = read(*_rt, **d, 4096, 512);
    ASSERT_TRUE(is_ok(direct));
    EXPECT_TRUE(same_bytes(*direct, data));
    // An offset that is not a multiple of the block size.
    EXPECT_EQ(initiator(fmt::format("'{}' --offset 100 read {}", _uri, out)).exit_code, 1);

    std::string id = _dir.file("id.bin");
    ToolRun i = initiator(fmt::format("'{}' id-ctrlr {}", _uri, id));
    ASSERT_EQ(i.exit_code, 0) << i.output;
    auto bytes = slurp(id);
    ASSERT_EQ(bytes.size(), nvme::kIdentifySize);
    EXPECT_EQ(
        std::string(reinterpret_cast<const char*>(&bytes[nvme::idctrl::kMn]), nvme::kModelNumber.size()),
        nvme::kModelNumber);
    // Keep Alive (0x18) succeeds; an unknown opcode and the snapshot command without a hook fail.
    ToolRun ka = initiator(fmt::format("'{}' nvme-admin 0x18", _uri));
    EXPECT_EQ(ka.exit_code, 0) << ka.output;
    ToolRun bad = initiator(fmt::format("'{}' nvme-admin 0xEE", _uri));
    EXPECT_EQ(bad.exit_code, 1) << bad.output;
    ToolRun snap = initiator(fmt::format("'{}' create-snapshot", _uri));
    EXPECT_EQ(snap.exit_code, 1) << snap.output;
    // Admin commands need an nvmf:// device.
    ToolRun m = initiator("'malloc:///m?size_mb=1' nvme-admin 6");
    EXPECT_EQ(m.exit_code, 1);
    EXPECT_NE(m.output.find("not an nvmf"), std::string::npos) << m.output;
}

}  // namespace
}  // namespace ms::test
