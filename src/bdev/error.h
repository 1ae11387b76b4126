// error:///name?base=NAME[&fail=read,write,...&offset_blocks=N&num_blocks=N&count=N&errno=E]:
// a fault-injection device over an existing device `base` (which it claims). I/O passes
// through to the base unless an injection rule matches it: then it fails with the rule's
// errno and never reaches the base. Rules can be added and cleared at run time.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "bdev/descriptor.h"
#include "bdev/device_factory.h"

namespace ms {

struct ErrorInjection {
    // Bit (1 << IoType) for each type to fail.
    uint32_t types = 0;
    uint64_t offset_blocks = 0;
    uint64_t num_blocks = std::numeric_limits<uint64_t>::max();
    // How many matching I/Os to fail before the rule retires; max() = forever, 0 = none.
    uint64_t count = std::numeric_limits<uint64_t>::max();
    int error = EIO;
};

constexpr uint32_t io_type_bit(IoType t) {
    return 1u << static_cast<unsigned>(t);
}
// "read,write,flush,unmap,write_zeroes,reset" or "all" -> type bits.
Result<uint32_t> parse_io_types(std::string_view list);

class ErrorDevice final : public BlockDevice {
   public:
    ErrorDevice(std::string name, std::unique_ptr<Descriptor> base, Uuid uuid);

    bool io_type_supported(IoType t) const override;
    Task<Status> submit(IoChannel& ch, IoRequest req) override;
    Task<void> shutdown() override;

    // Thread-safe (a fault-injection device; the mutex is not on any production path).
    void inject(const ErrorInjection& rule);
    void clear();
    // I/Os failed by injection so far.
    uint64_t injected_failures() const;

   private:
    std::optional<int> match(const IoRequest& req);

    std::unique_ptr<Descriptor> _base;
    mutable std::mutex _mutex;
    std::vector<ErrorInjection> _rules;
    uint64_t _failures = 0;
};

DeviceFactory error_device_factory();

}  // namespace ms
