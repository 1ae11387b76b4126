// The library API of mayastor-cpp, in one include: the Environment that runs the reactors,
// nexuses, and what I/O goes through (Descriptor, DmaBuf, Result). See docs/library.md.
#pragma once

#include "bdev/block_device.h"
#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "core/dma_buf.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"
#include "mayastor/environment.h"
#include "mayastor/nexus.h"
