#include "bdev/malloc.h"

#include <sys/mman.h>

#include <cstring>

namespace ms {
namespace {

class MallocDevice final : public BlockDevice {
   public:
    MallocDevice(std::string name, Geometry g, Uuid uuid, uint8_t* mem)
        : BlockDevice(std::move(name), "Malloc disk", g, uuid), _mem(mem) {}
    ~MallocDevice() override { ::munmap(_mem, geometry().size_bytes()); }

    bool io_type_supported(IoType) const override { return true; }

    Task<Status> submit(IoChannel&, IoRequest req) override {
        uint8_t* p = _mem + req.offset_blocks * block_size();
        switch (req.type) {
            case IoType::Read:
                for (const iovec& v : req.iov) {
                    std::memcpy(v.iov_base, p, v.iov_len);
                    p += v.iov_len;
                }
                break;
            case IoType::Write:
                for (const iovec& v : req.iov) {
                    std::memcpy(p, v.iov_base, v.iov_len);
                    p += v.iov_len;
                }
                break;
            case IoType::Unmap:
            case IoType::WriteZeroes:
                std::memset(p, 0, req.num_blocks * block_size());
                break;
            case IoType::Flush:
            case IoType::Reset:
                break;
        }
        co_return ok();
    }

   private:
    uint8_t* _mem;
};

}  // namespace

DeviceFactory malloc_device_factory() {
    DeviceFactory f;
    f.name_of = &device_name_of_path;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto spec = parse_memory_device_uri(uri);
        if (!spec) {
            co_return std::unexpected(spec.error());
        }
        void* mem = ::mmap(nullptr, spec->geometry.size_bytes(), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED) {
            co_return errorf(ENOMEM, "cannot allocate {} bytes for '{}'", spec->geometry.size_bytes(),
                             spec->name);
        }
        co_return std::make_shared<MallocDevice>(spec->name, spec->geometry, spec->uuid,
                                                 static_cast<uint8_t*>(mem));
    };
    return f;
}

}  // namespace ms
