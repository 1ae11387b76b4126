// The share seam: one interface every protocol server implements (NVMe-oF/TCP, NBD, iSCSI,
// vhost-user-blk), so that the API and the daemon share a device without naming a protocol's
// types. A server exports BlockDevices under their names and says at which URI each is
// reached; ShareRegistry (share_registry.h) keeps one server per protocol, claims a device
// before handing it to a server and is the one record of what is shared.
//
// Threading: a server's management calls (share, unshare, list, path state) block while the
// reactors do the work, so they are made from non-reactor threads (gRPC threads, the daemon's
// main thread, a test's main thread), never from a reactor. Implementations must be
// thread-safe: two gRPC threads may call at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bdev/block_device.h"
#include "core/status.h"
#include "core/task.h"

namespace ms::target {

// Protocol names as the API (BdevRpc.Share's `proto`) and URIs spell them.
inline constexpr std::string_view kNvmf = "nvmf";
inline constexpr std::string_view kNbd = "nbd";
inline constexpr std::string_view kIscsi = "iscsi";
inline constexpr std::string_view kVhostUser = "vhost-user";

// How hosts may use a path to the device (NVMe ANA, SCSI ALUA). A protocol without the notion
// answers ENOTSUP.
enum class PathState : uint8_t { Optimized, NonOptimized, Inaccessible };

struct ShareOptions {
    // Hosts allowed to connect (NQNs for NVMe-oF, IQNs for iSCSI); empty: any host. A protocol
    // that cannot tell hosts apart refuses a non-empty list with EINVAL.
    std::vector<std::string> allowed_hosts;
    // Attach the export to this machine's kernel as a local block device (NBD: /dev/nbdN) and
    // return a file:/// URI. ENOTSUP where the protocol cannot; where the kernel lacks the
    // driver, an error that says so (ENODEV).
    bool local_device = false;
    // Mayastor's vendor snapshot command (NVMe-oF admin opcode 0xC0, Unix time in seconds);
    // protocols without such a command ignore it.
    std::function<Task<Status>(uint64_t unix_seconds)> create_snapshot;
};

struct ShareRequest {
    std::shared_ptr<BlockDevice> device;
    // The device is claimed by this owner for the share: open it read-write with it
    // (Descriptor::open(device, OpenMode::ReadWrite, claim_owner)).
    std::string claim_owner;
    ShareOptions options;
};

struct ShareInfo {
    std::string protocol;
    std::string device_name;
    std::string uri;
    std::vector<std::string> allowed_hosts;
    bool local_device = false;
};

class ShareServer {
   public:
    virtual ~ShareServer() = default;

    // One of the k* names above.
    virtual std::string_view protocol() const = 0;

    // Exports req.device under its name and returns the URI a host reaches it at. The same
    // device again -> its URI (idempotent, options unchanged). Errors: the device cannot be
    // opened (its error), bad options (EINVAL), unsupported option (ENOTSUP).
    virtual Result<std::string> share(ShareRequest req) = 0;
    // Stops exporting the device named `device_name`: connections to it are closed (their
    // outstanding I/O completes first) and its descriptors are closed before this returns, so
    // that the caller may release the claim. Not shared -> OK.
    virtual Status unshare(const std::string& device_name) = 0;
    // What this server exports now.
    virtual std::vector<ShareInfo> list() const = 0;

    virtual Result<PathState> path_state(const std::string& device_name) const {
        (void)device_name;
        return errorf(ENOTSUP, "{} has no path states", protocol());
    }
    virtual Status set_path_state(const std::string& device_name, PathState state) {
        (void)device_name;
        (void)state;
        return errorf(ENOTSUP, "{} has no path states", protocol());
    }
};

}  // namespace ms::target
