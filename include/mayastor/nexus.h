// The nexus from an application: create a mirrored device over child URIs, open a Descriptor
// on it and do I/O with no system call per I/O (the seed README's example, in C++):
//
//   auto dev = co_await ms::nexus_create("mynexus", 64 << 20, uuid, children);
//   auto bd = ms::Descriptor::open(*dev, ms::OpenMode::ReadWrite);
//   auto buf = (*bd)->dma_malloc(4096);
//   buf->fill(0xff);
//   co_await (*bd)->write_at(0, *buf);   // one write, one per child
//
// Every call is a coroutine to await on a reactor (Environment::run). Errors are values; the
// codes are those of ms::nexus::NexusRegistry (nexus/nexus.h), which this header also brings
// in for everything beyond create and destroy: children, faults, rebuilds, NexusInfo.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"
#include "nexus/nexus.h"

namespace ms {

// Creates nexus `name` of `size` bytes (a multiple of the children's block size) mirrored over
// `children`, device URIs of any scheme ("malloc:///m0?size_mb=64", "aio:///path",
// "bdev:///replica"); devices that do not exist yet are created from their URIs. Returns the
// nexus's block device, to open with Descriptor::open. Idempotent on `uuid`.
Task<Result<std::shared_ptr<BlockDevice>>> nexus_create(std::string name, uint64_t size, Uuid uuid,
                                                        std::vector<std::string> children);

// The device of an existing nexus. ENOENT if there is none.
Result<std::shared_ptr<BlockDevice>> nexus_lookup(const Uuid& uuid);

// Destroys the nexus and the child devices it created. Close its descriptors first. Unknown
// uuid: ok.
Task<Status> nexus_destroy(Uuid uuid);

}  // namespace ms
