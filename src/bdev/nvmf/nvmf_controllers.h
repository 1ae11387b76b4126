// The NVMe-oF controllers this process holds as a host (one per nvmf:// device), for
// Mayastor.ListNvmeControllers and `mayastor-client controller list`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ms::nvmf_host {

// Values and words of the API's NvmeControllerState.
enum class ControllerState : uint8_t { New = 0, Initializing = 1, Running = 2, Faulted = 3, Unconfiguring = 4, Unconfigured = 5 };

struct ControllerInfo {
    std::string name;  // the device name: "<host>:<port>/<nqn>n1"
    ControllerState state = ControllerState::New;
    uint64_t size_bytes = 0;
    uint32_t block_size = 0;
};

// Thread-safe snapshot.
std::vector<ControllerInfo> list_controllers();

}  // namespace ms::nvmf_host
