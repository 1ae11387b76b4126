#include "core/dma_buf.h"

#include <cstdint>
#include <cstdlib>
#include <utility>

namespace ms {

Result<DmaBuf> DmaBuf::allocate(std::size_t size, std::size_t align, bool zero) {
    if (size == 0) {
        return make_error(EINVAL, "DMA buffer size must be positive");
    }
    if (align < sizeof(void*) || (align & (align - 1)) != 0) {
        return errorf(EINVAL, "DMA buffer alignment {} is not a power of two", align);
    }
    if (size > SIZE_MAX - (align - 1)) {
        return errorf(ENOMEM, "cannot allocate a {}-byte DMA buffer", size);
    }
    // Round the allocation up so the tail of the last aligned chunk is ours too.
    std::size_t alloc = (size + align - 1) / align * align;
    void* p = nullptr;
    if (posix_memalign(&p, align, alloc) != 0) {
        return errorf(ENOMEM, "cannot allocate a {}-byte DMA buffer", size);
    }
    if (zero) {
        std::memset(p, 0, alloc);
    }
    return DmaBuf(static_cast<uint8_t*>(p), size, align);
}

DmaBuf::DmaBuf(DmaBuf&& o) noexcept
    : _p(std::exchange(o._p, nullptr)),
      _size(std::exchange(o._size, 0)),
      _align(std::exchange(o._align, 0)) {}

DmaBuf& DmaBuf::operator=(DmaBuf&& o) noexcept {
    if (this != &o) {
        std::free(_p);
        _p = std::exchange(o._p, nullptr);
        _size = std::exchange(o._size, 0);
        _align = std::exchange(o._align, 0);
    }
    return *this;
}

DmaBuf::~DmaBuf() {
    std::free(_p);
}

}  // namespace ms
