// Per-thread free lists for coroutine frames: a Task per I/O must not cost a malloc per I/O.
#pragma once

#include <cstddef>

namespace ms::detail {

void* frame_alloc(std::size_t size);
void frame_free(void* p, std::size_t size) noexcept;

}  // namespace ms::detail
