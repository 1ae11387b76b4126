// DmaBuf: aligned, zeroed, owned buffers for O_DIRECT I/O.
#include "core/dma_buf.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <utility>

namespace ms {
namespace {

bool all_equal(std::span<const uint8_t> s, uint8_t v) {
    for (auto b : s) {
        if (b != v) {
            return false;
        }
    }
    return true;
}

TEST(DmaBuf, DefaultAlignmentIs4096) {
    auto b = DmaBuf::allocate(8192);
    ASSERT_TRUE(b.has_value()) << b.error().message;
    EXPECT_EQ(b->size(), 8192u);
    EXPECT_EQ(b->alignment(), 4096u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % 4096, 0u);
}

TEST(DmaBuf, AlignmentIsHonoured) {
    for (std::size_t align : {sizeof(void*), std::size_t{16}, std::size_t{512}, std::size_t{4096},
                              std::size_t{65536}, std::size_t{1} << 21}) {
        for (std::size_t size : {std::size_t{1}, std::size_t{511}, std::size_t{4096}, std::size_t{100000}}) {
            auto b = DmaBuf::allocate(size, align);
            ASSERT_TRUE(b.has_value()) << size << "/" << align << ": " << b.error().message;
            EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % align, 0u) << size << "/" << align;
            EXPECT_EQ(b->size(), size);
            EXPECT_EQ(b->alignment(), align);
        }
    }
}

TEST(DmaBuf, IsZeroedByDefault) {
    // Allocate and dirty buffers first so that a reused block would show old bytes.
    for (int i = 0; i < 8; ++i) {
        auto dirty = DmaBuf::allocate(1 << 16, 4096, false);
        ASSERT_TRUE(dirty.has_value());
        dirty->fill(0xa5);
    }
    for (std::size_t size : {std::size_t{1}, std::size_t{4095}, std::size_t{1} << 16, std::size_t{3} << 20}) {
        auto b = DmaBuf::allocate(size);
        ASSERT_TRUE(b.has_value());
        EXPECT_TRUE(all_equal(b->span(), 0)) << size;
    }
}

TEST(DmaBuf, UnzeroedBufferIsStillUsable) {
    auto b = DmaBuf::allocate(4096, 4096, false);
    ASSERT_TRUE(b.has_value());
    b->fill(0x5a);
    EXPECT_TRUE(all_equal(b->span(), 0x5a));
}

TEST(DmaBuf, SpanAndIovCoverTheBuffer) {
    auto b = DmaBuf::allocate(12345, 512);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->span().data(), b->data());
    EXPECT_EQ(b->span().size(), 12345u);
    const DmaBuf& cb = *b;
    EXPECT_EQ(cb.span().data(), cb.data());
    iovec v = b->iov();
    EXPECT_EQ(v.iov_base, b->data());
    EXPECT_EQ(v.iov_len, 12345u);
    b->fill(7);
    EXPECT_TRUE(all_equal(cb.span(), 7));
}

TEST(DmaBuf, RejectsSizeZero) {
    auto b = DmaBuf::allocate(0);
    ASSERT_FALSE(b.has_value());
    EXPECT_EQ(b.error().code, EINVAL);
}

TEST(DmaBuf, RejectsBadAlignment) {
    for (std::size_t align : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{3},
                              std::size_t{24}, std::size_t{4097}, std::size_t{6144}}) {
        auto b = DmaBuf::allocate(4096, align);
        EXPECT_FALSE(b.has_value()) << "alignment " << align << " accepted";
        if (!b) {
            EXPECT_EQ(b.error().code, EINVAL);
            EXPECT_NE(b.error().message.find(std::to_string(align)), std::string::npos) << b.error().message;
        }
    }
}

TEST(DmaBuf, RejectsSizesThatCannotBeAllocated) {
    // Rounding such a size up to the alignment overflows: it must fail, not hand out a buffer
    // that claims to be huge but is not.
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    for (std::size_t size : {kMax, kMax - 1, kMax - 4094}) {
        auto b = DmaBuf::allocate(size, 4096, false);
        EXPECT_FALSE(b.has_value()) << "a " << size << "-byte buffer was allocated";
        if (!b) {
            EXPECT_EQ(b.error().code, ENOMEM) << b.error().message;
        }
    }
}

TEST(DmaBuf, MoveConstructionTransfersOwnership) {
    auto r = DmaBuf::allocate(4096, 512);
    ASSERT_TRUE(r.has_value());
    uint8_t* p = r->data();
    DmaBuf a = std::move(*r);
    EXPECT_EQ(a.data(), p);
    EXPECT_EQ(a.size(), 4096u);
    EXPECT_EQ(a.alignment(), 512u);
    EXPECT_EQ(r->data(), nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(r->size(), 0u);
    EXPECT_TRUE(r->span().empty());
    DmaBuf b(std::move(a));
    EXPECT_EQ(b.data(), p);
    EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
    b.fill(1);
}

TEST(DmaBuf, MoveAssignmentFreesTheOldBuffer) {
    auto x = DmaBuf::allocate(4096);
    auto y = DmaBuf::allocate(8192);
    ASSERT_TRUE(x && y);
    uint8_t* py = y->data();
    *x = std::move(*y);  // ASan/LSan report the old buffer if it leaks
    EXPECT_EQ(x->data(), py);
    EXPECT_EQ(x->size(), 8192u);
    EXPECT_EQ(y->data(), nullptr);  // NOLINT(bugprone-use-after-move)
    DmaBuf& self = *x;
    *x = std::move(self);
    EXPECT_EQ(x->data(), py) << "self-move-assignment must keep the buffer";
    DmaBuf empty;
    *x = std::move(empty);
    EXPECT_EQ(x->data(), nullptr);
    EXPECT_EQ(x->size(), 0u);
}

TEST(DmaBuf, EmptyBufferIsHarmless) {
    DmaBuf b;
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(b.size(), 0u);
    EXPECT_TRUE(b.span().empty());
    b.fill(0xff);  // nothing to fill
    EXPECT_EQ(b.iov().iov_len, 0u);
}

}  // namespace
}  // namespace ms
