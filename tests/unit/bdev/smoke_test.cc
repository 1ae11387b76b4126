#include <gtest/gtest.h>

#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "core/runtime.h"

using namespace ms;

TEST(Smoke, MallocAndFileRoundTrip) {
    Runtime rt({});
    for (std::string uri : {std::string("malloc:///smoke?size_mb=8"), std::string("uring:///tmp/smoke.img"),
                            std::string("aio:///tmp/smoke2.img?blk_size=4096")}) {
        if (uri.starts_with("uring") || uri.starts_with("aio")) {
            std::string path = uri.substr(uri.find(":///") + 3, uri.find('?') == std::string::npos ? std::string::npos : uri.find('?') - uri.find(":///") - 3);
            FILE* f = fopen(path.c_str(), "w");
            ASSERT_EQ(0, ftruncate(fileno(f), 8 << 20));
            fclose(f);
        }
        Status s = run_on(rt.reactor(0), [&]() -> Task<Status> {
            auto dev = co_await create_device(uri);
            if (!dev) co_return std::unexpected(dev.error());
            auto d = Descriptor::open(*dev, OpenMode::ReadWrite);
            auto buf = (*d)->dma_malloc(64 << 10);
            buf->fill(0xab);
            if (auto r = co_await (*d)->write_at(4096 * 3, *buf); !r) co_return r;
            buf->fill(0);
            if (auto r = co_await (*d)->read_at(4096 * 3, *buf); !r) co_return r;
            for (auto b : buf->span()) if (b != 0xab) co_return make_error(EIO, "mismatch");
            d->reset();
            co_return co_await destroy_device(uri);
        });
        EXPECT_TRUE(s.has_value()) << uri << ": " << s.error().to_string();
    }
}
