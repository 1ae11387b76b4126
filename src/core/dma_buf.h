// DmaBuf: an owned, aligned I/O buffer (O_DIRECT-safe), zero-initialised on request.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/status.h"

namespace ms {

class DmaBuf {
   public:
    static constexpr std::size_t kDefaultAlign = 4096;

    DmaBuf() = default;
    // size > 0; align a power of two >= sizeof(void*).
    static Result<DmaBuf> allocate(std::size_t size, std::size_t align = kDefaultAlign, bool zero = true);

    DmaBuf(DmaBuf&& o) noexcept;
    DmaBuf& operator=(DmaBuf&& o) noexcept;
    DmaBuf(const DmaBuf&) = delete;
    DmaBuf& operator=(const DmaBuf&) = delete;
    ~DmaBuf();

    uint8_t* data() { return _p; }
    const uint8_t* data() const { return _p; }
    std::size_t size() const { return _size; }
    std::size_t alignment() const { return _align; }
    std::span<uint8_t> span() { return {_p, _size}; }
    std::span<const uint8_t> span() const { return {_p, _size}; }
    iovec iov() { return {_p, _size}; }
    void fill(uint8_t v) {
        // An empty buffer has no pointer, and memset(nullptr, v, 0) is undefined.
        if (_size != 0) {
            std::memset(_p, v, _size);
        }
    }

   private:
    DmaBuf(uint8_t* p, std::size_t size, std::size_t align) : _p(p), _size(size), _align(align) {}
    uint8_t* _p = nullptr;
    std::size_t _size = 0;
    std::size_t _align = 0;
};

}  // namespace ms
