// Devices from URIs: each scheme registers a factory (one line in device_factory.cc's
// register_builtin_device_factories). A bare path with no scheme means aio://.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bdev/block_device.h"
#include "core/uri.h"

namespace ms {

struct DeviceFactory {
    // Makes the device (not yet registered). Rejects unknown or conflicting parameters.
    std::function<Task<Result<std::shared_ptr<BlockDevice>>>(const Uri&)> create;
    // Name the device made from this URI has (used to find it again on destroy).
    std::function<std::string(const Uri&)> name_of;
    // True for schemes that refer to an existing device (bdev://, loopback://): create looks
    // it up instead of making and registering a new one, and destroy leaves it alone.
    bool refers_to_existing = false;
};

void register_device_factory(std::string scheme, DeviceFactory factory);
// Registers every built-in scheme. Idempotent; create_device calls it.
void register_builtin_device_factories();

// Parses a device URI; a bare path ("/dev/sdb", "disk.img") becomes aio:///path (a relative
// path made absolute from the current directory).
Result<Uri> parse_device_uri(std::string_view text);

// Creates the device `uri` names and adds it to the registry (EEXIST if its name is taken).
// Errors name the problem (EINVAL for a bad URI or parameter, ENOENT for a missing file...)
// and leave nothing behind. Runs on a reactor.
Task<Result<std::shared_ptr<BlockDevice>>> create_device(std::string uri);
// Destroys the device created from `uri` (or named `uri` when it has no scheme and a device
// of that name exists). ENODEV if there is none; EBUSY if it is claimed or open.
Task<Status> destroy_device(std::string uri);

// The name of the device `uri` makes or refers to, as its scheme's factory names it
// (malloc:///m0 and bdev:///m0 -> m0, aio:///dev/sdb -> /dev/sdb, nvmf://h:p/nqn -> h:p/nqnn1);
// EINVAL for an unknown scheme.
Result<std::string> device_name_of(const Uri& uri);

// Helpers for factories.
Result<Uuid> take_uuid_param(QueryParams& params);

// scheme:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=U, the URI of memory-backed
// devices (malloc, null): exactly one of size_mb and num_blocks; nothing else accepted.
struct MemoryDeviceSpec {
    std::string name;
    Geometry geometry;
    Uuid uuid;
};
Result<MemoryDeviceSpec> parse_memory_device_uri(const Uri& uri);
// Path part without its leading '/', non-empty ("malloc:///m0" -> "m0").
Result<std::string> name_from_path(const Uri& uri);
// name_from_path as a DeviceFactory::name_of: empty when the URI names no device.
std::string device_name_of_path(const Uri& uri);

}  // namespace ms
