// Shared set-up of the target tests: two reactors, a malloc device shared as a subsystem by a
// target on free ports, and helpers that open an admin + I/O queue pair with the raw host.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bdev/device_factory.h"
#include "core/runtime.h"
#include "target/nvmf/nvmf_target.h"
#include "target/nvmf/raw_host.h"

namespace ms::nvmf::test {

inline RuntimeOptions two_reactors() {
    RuntimeOptions o;
    o.cpus = {0, 1};
    return o;
}

template <typename T>
T get_le(const std::vector<uint8_t>& v, std::size_t off) {
    T x{};
    std::memcpy(&x, v.data() + off, sizeof x);
    return x;
}

inline std::string ascii(const std::vector<uint8_t>& v, std::size_t off, std::size_t len) {
    std::string s(reinterpret_cast<const char*>(v.data() + off), len);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
        s.pop_back();
    }
    return s;
}

inline std::vector<uint8_t> pattern(std::size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
    }
    return v;
}

struct Queues {
    std::unique_ptr<RawHost> admin;
    std::unique_ptr<RawHost> io;
    uint16_t cntlid = 0;
};

// Admin queue (Connect, CC.EN = 1) and I/O queue 1 on separate connections.
inline Task<Result<Queues>> open_queues(uint16_t port, std::string nqn, bool hdgst = false,
                                        bool ddgst = false, uint32_t kato_ms = 0) {
    Queues q;
    auto a = co_await RawHost::connect(port, hdgst, ddgst);
    if (!a) {
        co_return std::unexpected(a.error());
    }
    q.admin = std::move(*a);
    auto c = co_await q.admin->connect_queue(0, nqn, nvme::kDynamicCntlid, kato_ms);
    if (!c) {
        co_return std::unexpected(c.error());
    }
    if (!c->status().ok()) {
        co_return errorf(EPROTO, "admin connect failed: sct {} sc {:#x}", static_cast<int>(c->status().sct),
                         c->status().sc);
    }
    q.cntlid = static_cast<uint16_t>(c->cqe.dw0);
    auto en = co_await q.admin->property_set(nvme::prop::kCc, 1);
    if (!en || !en->status().ok()) {
        co_return errorf(EPROTO, "CC.EN failed");
    }
    auto i = co_await RawHost::connect(port, hdgst, ddgst);
    if (!i) {
        co_return std::unexpected(i.error());
    }
    q.io = std::move(*i);
    auto ic = co_await q.io->connect_queue(1, nqn, q.cntlid, 0, 127);
    if (!ic) {
        co_return std::unexpected(ic.error());
    }
    if (!ic->status().ok()) {
        co_return errorf(EPROTO, "I/O connect failed: sct {} sc {:#x}", static_cast<int>(ic->status().sct),
                         ic->status().sc);
    }
    co_return q;
}

class TargetTest : public ::testing::Test {
   protected:
    void SetUp() override {
        rt = std::make_unique<Runtime>(two_reactors());
        dev = make_device("malloc:///tgt0?size_mb=4&blk_size=512");
        ASSERT_TRUE(dev);
        TargetOptions o;
        o.listen_address = "127.0.0.1";
        o.advertised_address = "127.0.0.1";
        o.replica_port = 0;
        o.nexus_port = 0;
        auto t = NvmfTarget::start(*rt, o);
        ASSERT_TRUE(t) << t.error().to_string();
        target = std::move(*t);
        SubsystemSpec spec;
        spec.device = dev;
        auto n = target->add_subsystem(spec);
        ASSERT_TRUE(n) << n.error().to_string();
        nqn = *n;
    }
    void TearDown() override {
        target.reset();
        dev.reset();
        for (const auto& u : created) {
            run_on(rt->reactor(0), [u]() -> Task<Status> { co_return co_await destroy_device(u); });
        }
        rt.reset();
    }

    std::shared_ptr<BlockDevice> make_device(const std::string& uri) {
        auto d = run_on(rt->reactor(0), [uri]() -> Task<Result<std::shared_ptr<BlockDevice>>> {
            co_return co_await create_device(uri);
        });
        if (!d) {
            ADD_FAILURE() << d.error().to_string();
            return nullptr;
        }
        created.push_back(uri.substr(0, uri.find('?')));
        return *d;
    }

    template <typename F>
    auto run(F f) {
        return run_on(rt->reactor(0), std::move(f));
    }

    std::unique_ptr<Runtime> rt;
    std::shared_ptr<BlockDevice> dev;
    std::unique_ptr<NvmfTarget> target;
    std::string nqn;
    std::vector<std::string> created;
};

}  // namespace ms::nvmf::test
