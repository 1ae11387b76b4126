// The shares of this process: one server per protocol (share_server.h) and the one record of
// which device is shared over what, at which URI. Sharing claims the device for the share
// ("<protocol> share") before the server opens it, so that a pool, a nexus or a second share
// cannot take a device that hosts are writing through an export; unsharing releases the claim.
//
// Thread-safe; share/unshare/unshare_all block while the server works, so (like the servers'
// calls) they are made from non-reactor threads. One share or unshare runs at a time.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "target/share_server.h"

namespace ms::target {

class ShareRegistry {
   public:
    // The server of its protocol(); it must outlive its registration (remove_server, or the
    // registry's end). EEXIST if the protocol has a server already.
    Status add_server(ShareServer& server);
    // Unshares what the server exports, then forgets it. Unknown protocol -> nothing.
    void remove_server(std::string_view protocol);
    ShareServer* server(std::string_view protocol) const;
    // Protocols with a server, sorted.
    std::vector<std::string> protocols() const;

    // Shares the registered device `device_name` over `protocol` and returns its URI.
    // Already shared over the same protocol -> its URI (idempotent; `options` are not applied
    // again). Errors, each leaving nothing changed: no server for the protocol
    // (EPROTONOSUPPORT), no such device (ENODEV), shared over another protocol or claimed by
    // someone else, a pool or a nexus (EBUSY), the server's own error.
    Result<std::string> share(const std::string& device_name, std::string_view protocol,
                              ShareOptions options);
    // Stops sharing `device_name` and releases its claim. Not shared -> OK. A server error is
    // returned and the share stays recorded.
    Status unshare(const std::string& device_name);
    // Unshares everything (shutdown); errors are logged.
    void unshare_all();

    std::optional<ShareInfo> find(const std::string& device_name) const;
    std::vector<ShareInfo> list() const;

    // The claim owner of a share over `protocol`.
    static std::string claim_owner(std::string_view protocol);

   private:
    struct Entry {
        ShareInfo info;
        std::shared_ptr<BlockDevice> device;
    };
    Status unshare_locked(const std::string& device_name);

    std::mutex _ops;         // one share/unshare at a time (held while a server works)
    mutable std::mutex _mu;  // the maps
    std::map<std::string, ShareServer*, std::less<>> _servers;
    std::map<std::string, Entry, std::less<>> _shares;
};

}  // namespace ms::target
