// The host's record of one controller (one nvmf:// device), shared by the device, its queues'
// failure callbacks and its keep-alive task, and listed by list_controllers().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bdev/nvmf/nvmf_controllers.h"

namespace ms::nvmf_host {

struct ControllerEntry {
    std::string name;
    std::atomic<ControllerState> state{ControllerState::New};
    std::atomic<uint64_t> size_bytes{0};
    std::atomic<uint32_t> block_size{0};
    // Set when the device is being destroyed: background tasks stop, new I/O fails.
    std::atomic<bool> closed{false};
};

// Adds/removes an entry in the process-wide list.
void register_controller(std::shared_ptr<ControllerEntry> entry);
void unregister_controller(const std::shared_ptr<ControllerEntry>& entry);

}  // namespace ms::nvmf_host
