#include "bdev/backing_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <climits>

#include "bdev_test_util.h"

namespace ms::test {
namespace {

Result<BackingFile> open_backing(const std::string& uri) {
    auto parsed = parse_uri(uri);
    if (!parsed) {
        return std::unexpected(parsed.error());
    }
    return BackingFile::open(*parsed);
}

bool fd_is_open(int fd) {
    return ::fcntl(fd, F_GETFD) != -1;
}

TEST(BackingFile, RegularFile) {
    TempDir dir;
    std::string file = dir.file("f.img");
    make_file(file, (1 << 20) + 100);
    auto f = open_backing("uring://" + file + "?blk_size=4096&uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    ASSERT_TRUE(is_ok(f));
    EXPECT_GE(f->fd, 0);
    EXPECT_EQ(f->path, file);
    EXPECT_FALSE(f->is_block_device);
    EXPECT_TRUE(f->direct);
    EXPECT_EQ(f->geometry.block_size, 4096u);
    EXPECT_EQ(f->geometry.num_blocks, 256u);
    EXPECT_EQ(f->geometry.buf_align, 512u);
    EXPECT_EQ(f->uuid.to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    EXPECT_EQ(BackingFile::name_of(*parse_uri("aio://" + file)), file);
    EXPECT_NE(::fcntl(f->fd, F_GETFL) & O_DIRECT, 0);
}

// The file descriptor has exactly one owner: moves hand it over, destruction closes it.
TEST(BackingFile, OwnsItsDescriptor) {
    TempDir dir;
    std::string file = dir.file("f.img");
    make_file(file, 1 << 20);
    int fd = -1;
    {
        auto f = open_backing("aio://" + file);
        ASSERT_TRUE(is_ok(f));
        fd = f->fd;
        BackingFile moved(std::move(*f));
        EXPECT_EQ(moved.fd, fd);
        EXPECT_EQ(f->fd, -1);
        EXPECT_EQ(moved.path, file);
        auto other = open_backing("aio://" + file);
        ASSERT_TRUE(is_ok(other));
        int other_fd = other->fd;
        *other = std::move(moved);  // closes other's own descriptor
        EXPECT_FALSE(fd_is_open(other_fd));
        EXPECT_EQ(other->fd, fd);
        EXPECT_EQ(moved.fd, -1);
        EXPECT_TRUE(fd_is_open(fd));
    }
    EXPECT_FALSE(fd_is_open(fd));
}

TEST(BackingFile, LoopDevice) {
    TempDir dir;
    std::string file = dir.file("l.img");
    make_file(file, 4 << 20);
    LoopDevice loop(file);
    if (loop.path().empty()) {
        GTEST_SKIP() << loop.reason();
    }
    auto f = open_backing("uring://" + loop.path());
    ASSERT_TRUE(is_ok(f));
    EXPECT_TRUE(f->is_block_device);
    EXPECT_TRUE(f->direct);
    EXPECT_EQ(f->geometry.block_size, 512u);
    EXPECT_EQ(f->geometry.num_blocks, (4u << 20) / 512);
    // The synchronous block-device helpers zero what they are given, and only that.
    auto data = random_bytes(64 << 10, 1);
    {
        auto buf = DmaBuf::allocate(data.size(), 4096);
        ASSERT_TRUE(is_ok(buf));
        std::memcpy(buf->data(), data.data(), data.size());
        ASSERT_EQ(::pwrite(f->fd, buf->data(), buf->size(), 0), static_cast<ssize_t>(data.size()));
    }
    EXPECT_TRUE(is_ok(f->zero_blocks(4096, 8192)));
    EXPECT_TRUE(is_ok(f->discard_blocks(32768, 4096)));
    std::fill_n(data.begin() + 4096, 8192, 0);
    std::fill_n(data.begin() + 32768, 4096, 0);
    auto buf = DmaBuf::allocate(data.size(), 4096);
    ASSERT_TRUE(is_ok(buf));
    ASSERT_EQ(::pread(f->fd, buf->data(), buf->size(), 0), static_cast<ssize_t>(data.size()));
    EXPECT_TRUE(same_bytes(buf->span(), data));
    // Ranges the kernel refuses come back as errors, not silently ignored.
    EXPECT_FALSE(f->zero_blocks(1, 512).has_value());
    EXPECT_FALSE(f->discard_blocks(0, 100).has_value());
}

TEST(BackingFile, IovTail) {
    uint8_t a[100], b[50], c[10];
    std::vector<iovec> iov = {{a, 100}, {b, 50}, {c, 10}};
    auto tail = iov_tail(iov, 0);
    ASSERT_EQ(tail.size(), 3u);
    EXPECT_EQ(tail[0].iov_base, a);
    EXPECT_EQ(tail[0].iov_len, 100u);

    tail = iov_tail(iov, 30);
    ASSERT_EQ(tail.size(), 3u);
    EXPECT_EQ(tail[0].iov_base, a + 30);
    EXPECT_EQ(tail[0].iov_len, 70u);
    EXPECT_EQ(tail[1].iov_base, b);
    EXPECT_EQ(tail[2].iov_len, 10u);

    tail = iov_tail(iov, 100);
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].iov_base, b);
    EXPECT_EQ(tail[0].iov_len, 50u);

    tail = iov_tail(iov, 149);
    ASSERT_EQ(tail.size(), 2u);
    EXPECT_EQ(tail[0].iov_base, b + 49);
    EXPECT_EQ(tail[0].iov_len, 1u);
    EXPECT_EQ(tail[1].iov_base, c);

    tail = iov_tail(iov, 155);
    ASSERT_EQ(tail.size(), 1u);
    EXPECT_EQ(tail[0].iov_base, c + 5);
    EXPECT_EQ(tail[0].iov_len, 5u);

    EXPECT_TRUE(iov_tail(iov, 160).empty());
    EXPECT_TRUE(iov_tail({}, 0).empty());
}

TEST(BackingFile, IovBatch) {
    std::vector<iovec> iov(2500);
    EXPECT_EQ(iov_batch(iov).size(), static_cast<std::size_t>(IOV_MAX));
    EXPECT_EQ(iov_batch(iov).data(), iov.data());
    EXPECT_EQ(iov_batch(std::span(iov).first(IOV_MAX)).size(), static_cast<std::size_t>(IOV_MAX));
    EXPECT_EQ(iov_batch(std::span(iov).first(3)).size(), 3u);
    EXPECT_TRUE(iov_batch({}).empty());
}

}  // namespace
}  // namespace ms::test
