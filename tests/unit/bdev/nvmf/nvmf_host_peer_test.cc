// Our host against a scripted fake target on a plain socket: a peer that answers the ICReq with
// garbage, or one that never answers. Creation must fail with a clear error within the
// timeout, leave no device and no controller behind, and never crash or hang.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "../bdev_test_util.h"
#include "bdev/all_devices.h"
#include "bdev/nvmf/nvmf_controllers.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/net.h"
#include "core/reactor.h"
#include "nvme/pdu.h"

namespace ms::test {
namespace {

using namespace std::chrono_literals;

enum class PeerMode { Garbage, Silent, TermReq };

// Accepts one connection, reads the ICReq, then misbehaves as `mode` says and holds the
// connection until the host closes it.
Task<void> fake_peer(Listener* l, PeerMode mode) {
    auto s = co_await l->accept();
    if (!s) {
        co_return;
    }
    uint8_t icreq[128];
    if (!co_await s->recv_exact(icreq)) {
        co_return;
    }
    if (mode == PeerMode::Garbage) {
        std::vector<uint8_t> junk(128, 0xA5);
        (void)co_await s->send_all(junk);
    } else if (mode == PeerMode::TermReq) {
        uint8_t out[nvme::tcp::kMaxHeaderSize + nvme::tcp::kTermReqMaxData];
        std::size_t n = nvme::tcp::encode_term_req(out, nvme::tcp::PduType::C2HTermReq,
                                                   nvme::tcp::Fes::UnsupportedParameter, 0,
                                                   std::span<const uint8_t>(icreq, 8));
        (void)co_await s->send_all(std::span<const uint8_t>(out, n));
    }
    uint8_t sink[256];
    while (true) {
        auto n = co_await s->recv_some(sink);
        if (!n || *n == 0) {
            co_return;
        }
    }
}

class NvmfHostPeer : public ::testing::TestWithParam<PeerMode> {};

TEST_P(NvmfHostPeer, BadTargetFailsCreateCleanly) {
    register_all_device_factories();
    Runtime peer_rt(RuntimeOptions{});
    Runtime host_rt(RuntimeOptions{});
    auto l = Listener::listen_tcp("127.0.0.1", 0);
    ASSERT_TRUE(is_ok(l));
    Listener listener = std::move(*l);
    PeerMode mode = GetParam();
    peer_rt.reactor(0).post([&] { peer_rt.reactor(0).spawn(fake_peer(&listener, mode)); });
    auto t0 = std::chrono::steady_clock::now();
    auto dev = create(
        host_rt, fmt::format("nvmf://127.0.0.1:{}/nqn.2019-05.io.openebs:x?timeout_ms=300", listener.port()));
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(dev.has_value());
    if (mode == PeerMode::Silent) {
        EXPECT_EQ(dev.error().code, ETIMEDOUT) << dev.error().message;
    } else {
        EXPECT_EQ(dev.error().code, EPROTO) << dev.error().message;
    }
    EXPECT_LT(took, 2s);
    EXPECT_TRUE(nvmf_host::list_controllers().empty());
    EXPECT_TRUE(DeviceRegistry::instance().list().empty());
    host_rt.stop();
    listener.close();
    peer_rt.stop();
}

INSTANTIATE_TEST_SUITE_P(Modes, NvmfHostPeer,
                         ::testing::Values(PeerMode::Garbage, PeerMode::Silent, PeerMode::TermReq),
                         [](const auto& info) {
                             switch (info.param) {
                                 case PeerMode::Garbage:
                                     return std::string("Garbage");
                                 case PeerMode::Silent:
                                     return std::string("Silent");
                                 case PeerMode::TermReq:
                                     return std::string("TermReq");
                             }
                             return std::string("x");
                         });

// A listener whose accept queue is full drops new SYNs: the host's TCP connect must give up
// after timeout_ms (ETIMEDOUT) instead of waiting for the kernel's SYN retries.
TEST(NvmfHostConnect, ConnectTimesOut) {
    register_all_device_factories();
    Runtime host_rt(RuntimeOptions{});
    auto l = Listener::listen_tcp("127.0.0.1", 0, 0);
    ASSERT_TRUE(is_ok(l));
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(l->port());
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(fd);
    }
    std::this_thread::sleep_for(50ms);
    auto t0 = std::chrono::steady_clock::now();
    auto dev = create(host_rt,
                      fmt::format("nvmf://127.0.0.1:{}/nqn.2019-05.io.openebs:x?timeout_ms=300", l->port()));
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(dev.has_value());
    EXPECT_EQ(dev.error().code, ETIMEDOUT) << dev.error().message;
    EXPECT_LT(took, 2s);
    EXPECT_TRUE(nvmf_host::list_controllers().empty());
    for (int fd : fillers) {
        ::close(fd);
    }
}

}  // namespace
}  // namespace ms::test
