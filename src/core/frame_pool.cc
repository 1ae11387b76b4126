#include "core/frame_pool.h"

#include <array>
#include <cstdlib>
#include <new>

namespace ms::detail {
namespace {

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 32;  // frames up to 2 KiB are pooled
constexpr std::size_t kMaxCached = 4096;

struct FreeNode {
    FreeNode* next;
};

struct Pool {
    std::array<FreeNode*, kClasses> heads{};
    std::array<std::size_t, kClasses> counts{};

    ~Pool() {
        for (auto* head : heads) {
            while (head != nullptr) {
                FreeNode* next = head->next;
                ::operator delete(head);
                head = next;
            }
        }
    }
};

thread_local Pool t_pool;

std::size_t size_class(std::size_t size) {
    return (size + kGranule - 1) / kGranule;
}

}  // namespace

void* frame_alloc(std::size_t size) {
    std::size_t c = size_class(size);
    if (c < kClasses) {
        if (FreeNode* n = t_pool.heads[c]; n != nullptr) {
            t_pool.heads[c] = n->next;
            --t_pool.counts[c];
            return n;
        }
        return ::operator new(c* kGranule);
    }
    return ::operator new(size);
}

void frame_free(void* p, std::size_t size) noexcept {
    std::size_t c = size_class(size);
    if (c < kClasses && t_pool.counts[c] < kMaxCached) {
        auto* n = static_cast<FreeNode*>(p);
        n->next = t_pool.heads[c];
        t_pool.heads[c] = n;
        ++t_pool.counts[c];
        return;
    }
    ::operator delete(p);
}

}  // namespace ms::detail
