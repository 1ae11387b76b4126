// The nexus RPCs through the real gRPC C++ client: one helper per RPC, I/O on devices by name
// (the JSON-RPC bdev_write/bdev_read code), and waiting for a child to reach a state.
#pragma once

#include <cctype>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/ops/bdev_ops.h"
#include "api_test_util.h"

namespace ms::api::test {

inline constexpr uint64_t kMiB = 1 << 20;
inline constexpr const char* kNexus1 = "6f3c2a1e-9b4d-4e7a-8c5f-0d1e2f3a4b5c";
inline constexpr const char* kNexus2 = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";

class NexusFixture : public ApiFixture {
   protected:
    using Stub = mayastor::Mayastor::Stub;

    std::pair<grpc::Status, mayastor::Nexus> create(const std::string& uuid, uint64_t size,
                                                    const std::vector<std::string>& children) {
        mayastor::CreateNexusRequest req;
        req.set_uuid(uuid);
        req.set_size(size);
        for (const auto& c : children) {
            req.add_children(c);
        }
        return call(&Stub::CreateNexus, *_mayastor, req);
    }
    grpc::Status destroy(const std::string& uuid) {
        mayastor::DestroyNexusRequest req;
        req.set_uuid(uuid);
        return call(&Stub::DestroyNexus, *_mayastor, req).first;
    }
    mayastor::ListNexusReply list() {
        auto [s, rep] = call(&Stub::ListNexus, *_mayastor, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
    // The listed nexus `uuid` (an empty message if it is not listed).
    mayastor::Nexus get(const std::string& uuid) {
        auto reply = list();
        for (const auto& n : reply.nexus_list()) {
            if (n.uuid() == uuid) {
                return n;
            }
        }
        ADD_FAILURE() << "nexus " << uuid << " is not listed";
        return mayastor::Nexus();
    }
    // The listed child `uri` of nexus `uuid`.
    mayastor::Child child(const std::string& uuid, const std::string& uri) {
        auto n = get(uuid);
        for (const auto& c : n.children()) {
            if (c.uri() == uri) {
                return c;
            }
        }
        ADD_FAILURE() << uri << " is not a child of " << uuid;
        return mayastor::Child();
    }
    std::pair<grpc::Status, mayastor::Child> add(const std::string& uuid, const std::string& uri,
                                                 bool norebuild = false) {
        mayastor::AddChildNexusRequest req;
        req.set_uuid(uuid);
        req.set_uri(uri);
        req.set_norebuild(norebuild);
        return call(&Stub::AddChildNexus, *_mayastor, req);
    }
    grpc::Status remove(const std::string& uuid, const std::string& uri) {
        mayastor::RemoveChildNexusRequest req;
        req.set_uuid(uuid);
        req.set_uri(uri);
        return call(&Stub::RemoveChildNexus, *_mayastor, req).first;
    }
    grpc::Status fault(const std::string& uuid, const std::string& uri) {
        mayastor::FaultNexusChildRequest req;
        req.set_uuid(uuid);
        req.set_uri(uri);
        return call(&Stub::FaultNexusChild, *_mayastor, req).first;
    }
    grpc::Status child_op(const std::string& uuid, const std::string& uri, int action) {
        mayastor::ChildNexusRequest req;
        req.set_uuid(uuid);
        req.set_uri(uri);
        req.set_action(static_cast<mayastor::ChildAction>(action));
        return call(&Stub::ChildOperation, *_mayastor, req).first;
    }
    // StartRebuild, StopRebuild, ...: every rebuild request has uuid and uri.
    template <typename Req, typename Rep>
    std::pair<grpc::Status, Rep> rebuild(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Rep*),
                                         const std::string& uuid, const std::string& uri) {
        Req req;
        req.set_uuid(uuid);
        req.set_uri(uri);
        return call(method, *_mayastor, req);
    }

    // Waits (polling ListNexus, 10 s at most) until child `uri` of `uuid` is in `state`.
    bool wait_child_state(const std::string& uuid, const std::string& uri, mayastor::ChildState state,
                          std::chrono::seconds timeout = std::chrono::seconds(10)) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto reply = list();
            for (const auto& n : reply.nexus_list()) {
                for (const auto& c : n.children()) {
                    if (n.uuid() == uuid && c.uri() == uri && c.state() == state) {
                        return true;
                    }
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    // Device I/O by name, as the JSON-RPC methods do it.
    void write(const std::string& device, uint64_t offset, std::vector<uint8_t> data) {
        Status s = _ctx->on_reactor([device, offset, data = std::move(data)]() mutable {
            return write_bdev(device, offset, std::move(data), true);
        });
        ASSERT_TRUE(s) << device << ": " << s.error().message;
    }
    std::vector<uint8_t> read(const std::string& device, uint64_t offset, uint64_t length) {
        auto r = _ctx->on_reactor([device, offset, length] { return read_bdev(device, offset, length); });
        EXPECT_TRUE(r) << device << ": " << (r ? "" : r.error().message);
        return r ? *r : std::vector<uint8_t>();
    }
    static std::string lowercase(std::string s) {
        for (auto& c : s) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        return s;
    }
    // `length` bytes of a pattern that differs per call of a test (`seed`).
    static std::vector<uint8_t> pattern(uint64_t length, uint8_t seed) {
        std::vector<uint8_t> d(length);
        for (uint64_t i = 0; i < length; ++i) {
            d[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
        }
        return d;
    }
    // Whole devices compared 1 MiB at a time over `size` bytes.
    bool same_data(const std::string& a, const std::string& b, uint64_t size) {
        for (uint64_t off = 0; off < size; off += kMiB) {
            uint64_t n = std::min<uint64_t>(kMiB, size - off);
            if (read(a, off, n) != read(b, off, n)) {
                ADD_FAILURE() << a << " and " << b << " differ in the MiB at " << off;
                return false;
            }
        }
        return true;
    }
    bool has_device(const std::string& name) {
        return _ctx->call_on_reactor([name] { return DeviceRegistry::instance().lookup(name) != nullptr; });
    }
};

}  // namespace ms::api::test
