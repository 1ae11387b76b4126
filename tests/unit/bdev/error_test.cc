#include "bdev/error.h"

#include <gtest/gtest.h>

#include "bdev/device_registry.h"
#include "bdev_test_util.h"

namespace ms::test {
namespace {

constexpr uint64_t kBlocks = 2048;

// A malloc base "ebase" under an error device "err" made from `params`; a read-only view of
// the base to see what really reached it.
class ErrorDeviceTest : public ::testing::Test {
   protected:
    void make(const std::string& params, uint32_t bs = 512) {
        _bs = bs;
        auto base = create(
            _rt, "malloc:///ebase?num_blocks=" + std::to_string(kBlocks) + "&blk_size=" + std::to_string(bs));
        ASSERT_TRUE(is_ok(base));
        _base = *base;
        auto base_ro = Descriptor::open(_base, OpenMode::ReadOnly);
        ASSERT_TRUE(is_ok(base_ro));
        _base_ro = std::move(*base_ro);
        _uri = "error:///err?base=ebase" + (params.empty() ? "" : "&" + params);
        auto dev = create(_rt, _uri);
        ASSERT_TRUE(is_ok(dev));
        _dev = std::static_pointer_cast<ErrorDevice>(*dev);
        _d = open_rw(_dev);
    }

    void TearDown() override {
        _d.reset();
        _dev.reset();
        if (!_uri.empty()) {
            EXPECT_TRUE(is_ok(destroy(_rt, _uri)));
        }
        _base_ro.reset();
        if (_base) {
            EXPECT_EQ(_base->claimed_by(), "");
            EXPECT_EQ(_base->open_count(), 0);
            _base.reset();
            EXPECT_TRUE(is_ok(destroy(_rt, "malloc:///ebase")));
        }
    }

    std::vector<uint8_t> base_blocks(uint64_t block, uint64_t count) {
        auto r = read(_rt, *_base_ro, block * _bs, count * _bs);
        EXPECT_TRUE(is_ok(r));
        return r ? *r : std::vector<uint8_t>{};
    }
    Status write_blocks(uint64_t block, uint64_t count, uint64_t seed) {
        return write(_rt, *_d, block * _bs, random_bytes(count * _bs, seed));
    }

    Runtime _rt{RuntimeOptions{}};
    uint32_t _bs = 512;
    std::shared_ptr<BlockDevice> _base;
    std::unique_ptr<Descriptor> _base_ro;
    std::string _uri;
    std::shared_ptr<ErrorDevice> _dev;
    std::unique_ptr<Descriptor> _d;
};

TEST_F(ErrorDeviceTest, PassesEverythingThroughWithoutRules) {
    for (uint32_t bs : {512u, 4096u}) {
        SCOPED_TRACE("blk_size " + std::to_string(bs));
        ASSERT_NO_FATAL_FAILURE(make("", bs));
        EXPECT_EQ(_dev->product(), "Error injection disk");
        EXPECT_EQ(_dev->block_size(), bs);
        EXPECT_EQ(_dev->num_blocks(), kBlocks);
        ASSERT_NO_FATAL_FAILURE(check_round_trips(_rt, *_d, bs));
        ASSERT_NO_FATAL_FAILURE(check_rejects_bad_io(_rt, *_d));
        ASSERT_NO_FATAL_FAILURE(check_read_only(_rt, *_d));
        ASSERT_NO_FATAL_FAILURE(check_zeroing(_rt, *_d));
        // What the error device holds is what the base holds.
        auto data = random_bytes(16 * bs, 9);
        ASSERT_TRUE(is_ok(write(_rt, *_d, 100 * bs, data, 4)));
        EXPECT_TRUE(same_bytes(base_blocks(100, 16), data));
        EXPECT_EQ(_dev->injected_failures(), 0u);
        TearDown();
        _uri.clear();
    }
}

// Passing through to an O_DIRECT file keeps the base's alignment rules.
TEST_F(ErrorDeviceTest, OverAFileDevice) {
    TempDir dir;
    std::string file = dir.file("base.img");
    make_file(file, 8 << 20);
    auto base = create(_rt, "uring://" + file + "?blk_size=4096");
    ASSERT_TRUE(is_ok(base));
    with_device(_rt, "error:///efile?base=" + file, [&](Descriptor& d) {
        EXPECT_EQ(d.device().geometry().buf_align, (*base)->geometry().buf_align);
        check_round_trips(_rt, d, 5);
        check_rejects_bad_io(_rt, d);
        check_zeroing(_rt, d);
    });
    base->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, "uring://" + file)));
}

TEST_F(ErrorDeviceTest, FailsOnlyTheChosenTypes) {
    ASSERT_NO_FATAL_FAILURE(make("fail=write"));
    auto data = random_bytes(4 * _bs, 1);
    EXPECT_TRUE(fails_with(write(_rt, *_d, 0, data), EIO, {"injected", "write"}));
    // Reads, unmap, write_zeroes, flush and reset pass.
    ASSERT_TRUE(is_ok(read(_rt, *_d, 0, 4 * _bs)));
    EXPECT_TRUE(is_ok(unmap(_rt, *_d, 0, _bs)));
    EXPECT_TRUE(is_ok(write_zeroes(_rt, *_d, 0, _bs)));
    EXPECT_TRUE(is_ok(flush(_rt, *_d)));
    EXPECT_TRUE(is_ok(reset(_rt, *_d)));
    EXPECT_TRUE(fails_with(write(_rt, *_d, 8 * _bs, data, 2), EIO, {"injected", "write"}));
    // The failed writes never reached the base.
    EXPECT_TRUE(all_zero(base_blocks(0, 16)));
    EXPECT_EQ(_dev->injected_failures(), 2u);
}

TEST_F(ErrorDeviceTest, EachTypeCanBeFailedAlone) {
    ASSERT_NO_FATAL_FAILURE(make(""));
    auto data = random_bytes(8 * _bs, 2);
    ASSERT_TRUE(is_ok(write(_rt, *_d, 0, data)));
    for (IoType t :
         {IoType::Read, IoType::Write, IoType::Flush, IoType::Unmap, IoType::WriteZeroes, IoType::Reset}) {
        SCOPED_TRACE(std::string(to_string(t)));
        _dev->clear();
        _dev->inject(ErrorInjection{.types = io_type_bit(t)});
        auto junk = random_bytes(8 * _bs, 3);
        bool read_ok = read(_rt, *_d, 0, 8 * _bs).has_value();
        Status w = write(_rt, *_d, 0, junk);
        Status f = flush(_rt, *_d);
        Status u = unmap(_rt, *_d, 0, 2 * _bs);
        Status z = write_zeroes(_rt, *_d, 2 * _bs, 2 * _bs);
        Status x = reset(_rt, *_d);
        EXPECT_EQ(!read_ok, t == IoType::Read);
        EXPECT_EQ(!w, t == IoType::Write);
        EXPECT_EQ(!f, t == IoType::Flush);
        EXPECT_EQ(!u, t == IoType::Unmap);
        EXPECT_EQ(!z, t == IoType::WriteZeroes);
        EXPECT_EQ(!x, t == IoType::Reset);
        // Put the data back for the next round through the base's rules-free path.
        _dev->clear();
        ASSERT_TRUE(is_ok(write(_rt, *_d, 0, data)));
    }
    EXPECT_EQ(_dev->injected_failures(), 6u);
}

TEST_F(ErrorDeviceTest, FailedUnmapAndWriteZeroesLeaveTheBaseAlone) {
    ASSERT_NO_FATAL_FAILURE(make("fail=unmap,write_zeroes"));
    auto data = random_bytes(8 * _bs, 4);
    ASSERT_TRUE(is_ok(write(_rt, *_d, 0, data)));
    EXPECT_TRUE(fails_with(unmap(_rt, *_d, 0, 4 * _bs), EIO));
    EXPECT_TRUE(fails_with(write_zeroes(_rt, *_d, 4 * _bs, 4 * _bs), EIO));
    EXPECT_TRUE(same_bytes(base_blocks(0, 8), data));
}

TEST_F(ErrorDeviceTest, AllFailsEveryType) {
    ASSERT_NO_FATAL_FAILURE(make("fail=all&errno=5"));
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), EIO));
    EXPECT_TRUE(fails_with(write_blocks(0, 1, 1), EIO));
    EXPECT_TRUE(fails_with(flush(_rt, *_d), EIO));
    EXPECT_TRUE(fails_with(unmap(_rt, *_d, 0, _bs), EIO));
    EXPECT_TRUE(fails_with(write_zeroes(_rt, *_d, 0, _bs), EIO));
    EXPECT_TRUE(fails_with(reset(_rt, *_d), EIO));
    EXPECT_EQ(_dev->injected_failures(), 6u);
    EXPECT_TRUE(all_zero(base_blocks(0, 1)));
}

// Only requests that overlap [offset_blocks, offset_blocks + num_blocks) fail.
TEST_F(ErrorDeviceTest, FailsOnlyInsideTheBlockRange) {
    ASSERT_NO_FATAL_FAILURE(make("fail=write,read&offset_blocks=10&num_blocks=5"));
    struct Case {
        uint64_t block;
        uint64_t count;
        bool fails;
    };
    const Case cases[] = {
        {9, 1, false}, {15, 1, false}, {0, 10, false}, {15, 100, false}, {5, 5, false},
        {9, 2, true},  {14, 2, true},  {10, 5, true},  {12, 1, true},    {0, kBlocks, true},
        {10, 1, true}, {14, 1, true},  {0, 11, true},
    };
    std::vector<uint8_t> model(kBlocks * _bs, 0);
    uint64_t seed = 20;
    for (const Case& c : cases) {
        SCOPED_TRACE("blocks [" + std::to_string(c.block) + ", +" + std::to_string(c.count) + ")");
        auto data = random_bytes(c.count * _bs, seed++);
        Status w = write(_rt, *_d, c.block * _bs, data);
        auto r = read(_rt, *_d, c.block * _bs, c.count * _bs);
        if (c.fails) {
            EXPECT_TRUE(fails_with(w, EIO));
            EXPECT_TRUE(fails_with(r, EIO));
        } else {
            EXPECT_TRUE(is_ok(w));
            EXPECT_TRUE(is_ok(r));
            std::copy(data.begin(), data.end(), model.begin() + static_cast<std::ptrdiff_t>(c.block * _bs));
        }
    }
    // The base holds exactly the writes that passed.
    EXPECT_TRUE(same_bytes(base_blocks(0, kBlocks), model));
    EXPECT_EQ(_dev->injected_failures(), 16u);
}

// Flush and reset have no blocks: a rule for them fails them whatever its range.
TEST_F(ErrorDeviceTest, RangeDoesNotApplyToFlushAndReset) {
    ASSERT_NO_FATAL_FAILURE(make("fail=flush,reset,write&offset_blocks=100&num_blocks=1"));
    EXPECT_TRUE(fails_with(flush(_rt, *_d), EIO));
    EXPECT_TRUE(fails_with(reset(_rt, *_d), EIO));
    EXPECT_TRUE(is_ok(write_blocks(0, 1, 1)));
}

TEST_F(ErrorDeviceTest, FailsExactlyCountTimesThenPasses) {
    ASSERT_NO_FATAL_FAILURE(make("fail=write&count=3&offset_blocks=0&num_blocks=8"));
    // Requests the rule does not match do not use it up.
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(is_ok(write_blocks(8, 1, i)));
        EXPECT_TRUE(is_ok(read(_rt, *_d, 0, _bs)));
    }
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(fails_with(write_blocks(i, 1, 100 + i), EIO)) << "attempt " << i;
    }
    EXPECT_EQ(_dev->injected_failures(), 3u);
    EXPECT_TRUE(all_zero(base_blocks(0, 8)));
    auto data = random_bytes(8 * _bs, 50);
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(is_ok(write(_rt, *_d, 0, data))) << "after the rule retired, write " << i;
    }
    EXPECT_TRUE(same_bytes(base_blocks(0, 8), data));
    EXPECT_EQ(_dev->injected_failures(), 3u);
}

TEST_F(ErrorDeviceTest, FailsWithTheChosenErrno) {
    ASSERT_NO_FATAL_FAILURE(make("fail=write&errno=28"));
    EXPECT_TRUE(fails_with(write_blocks(0, 1, 1), ENOSPC));
    _dev->clear();
    _dev->inject(ErrorInjection{.types = io_type_bit(IoType::Read), .error = EROFS});
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), EROFS));
    EXPECT_TRUE(is_ok(write_blocks(0, 1, 1)));
}

TEST_F(ErrorDeviceTest, HexErrnoAndCount) {
    ASSERT_NO_FATAL_FAILURE(make("fail=read&errno=0x3d&count=0x2"));
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), ENODATA));
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), ENODATA));
    EXPECT_TRUE(is_ok(read(_rt, *_d, 0, _bs)));
}

TEST_F(ErrorDeviceTest, InjectAndClearAtRunTime) {
    ASSERT_NO_FATAL_FAILURE(make(""));
    EXPECT_TRUE(is_ok(write_blocks(0, 4, 1)));
    _dev->inject(ErrorInjection{.types = io_type_bit(IoType::Write), .offset_blocks = 2, .num_blocks = 2});
    EXPECT_TRUE(is_ok(write_blocks(0, 2, 2)));
    EXPECT_TRUE(fails_with(write_blocks(1, 2, 3), EIO));
    EXPECT_TRUE(fails_with(write_blocks(3, 1, 4), EIO));
    EXPECT_TRUE(is_ok(write_blocks(4, 1, 5)));
    EXPECT_EQ(_dev->injected_failures(), 2u);
    _dev->clear();
    auto data = random_bytes(4 * _bs, 6);
    EXPECT_TRUE(is_ok(write(_rt, *_d, 0, data)));
    EXPECT_TRUE(same_bytes(base_blocks(0, 4), data));
    // The counter keeps its total across clear().
    EXPECT_EQ(_dev->injected_failures(), 2u);

    // Rules are tried in order: the first matching one decides.
    _dev->inject(ErrorInjection{.types = io_type_bit(IoType::Read), .count = 1, .error = EAGAIN});
    _dev->inject(ErrorInjection{.types = io_type_bit(IoType::Read), .error = EPERM});
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), EAGAIN));
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), EPERM));
    EXPECT_TRUE(fails_with(read(_rt, *_d, 0, _bs), EPERM));
    EXPECT_EQ(_dev->injected_failures(), 5u);

    // Injected failures are the error device's errors, not the base's.
    IoStats s = _dev->stats();
    EXPECT_EQ(s.num_errors, 5u);
    EXPECT_EQ(_base->stats().num_errors, 0u);
}

// A rule that is to fail zero I/Os fails none.
TEST_F(ErrorDeviceTest, InjectedRuleWithZeroCountFailsNothing) {
    ASSERT_NO_FATAL_FAILURE(make(""));
    _dev->inject(ErrorInjection{.types = io_type_bit(IoType::Write), .count = 0});
    EXPECT_TRUE(is_ok(write_blocks(0, 1, 1)));
    EXPECT_TRUE(is_ok(write_blocks(0, 1, 2)));
    EXPECT_EQ(_dev->injected_failures(), 0u);
}

TEST(ErrorDevice, ClaimsItsBaseAndReleasesItWhenDestroyed) {
    Runtime rt({});
    auto base = create(rt, "malloc:///cbase?size_mb=1");
    ASSERT_TRUE(is_ok(base));
    auto err = create(rt, "error:///cerr?base=cbase");
    ASSERT_TRUE(is_ok(err));
    EXPECT_EQ((*base)->claimed_by(), "error:cerr");
    EXPECT_EQ((*base)->open_count(), 1);
    // Nobody else writes the base while the error device holds it.
    EXPECT_TRUE(fails_with(Descriptor::open(*base, OpenMode::ReadWrite), EPERM, {"error:cerr"}));
    EXPECT_TRUE(is_ok(Descriptor::open(*base, OpenMode::ReadOnly)));
    EXPECT_TRUE(fails_with((*base)->claim("pool"), EBUSY));
    EXPECT_TRUE(fails_with(create(rt, "error:///cerr2?base=cbase"), EBUSY, {"error:cerr"}));
    EXPECT_EQ(DeviceRegistry::instance().lookup("cerr2"), nullptr);
    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///cbase"), EBUSY));
    EXPECT_EQ(DeviceRegistry::instance().lookup("cbase"), *base);

    err->reset();
    ASSERT_TRUE(is_ok(destroy(rt, "error:///cerr")));
    EXPECT_EQ((*base)->claimed_by(), "");
    EXPECT_EQ((*base)->open_count(), 0);
    EXPECT_TRUE(is_ok(Descriptor::open(*base, OpenMode::ReadWrite)));
    // An error device over an error device works too (and claims it).
    err = create(rt, "error:///cerr?base=cbase");
    ASSERT_TRUE(is_ok(err));
    auto outer = create(rt, "error:///cerr-outer?base=cerr&fail=write");
    ASSERT_TRUE(is_ok(outer));
    EXPECT_EQ((*err)->claimed_by(), "error:cerr-outer");
    EXPECT_TRUE(fails_with(destroy(rt, "error:///cerr"), EBUSY));
    outer->reset();
    err->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "error:///cerr-outer")));
    EXPECT_TRUE(is_ok(destroy(rt, "error:///cerr")));
    base->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///cbase")));
}

TEST(ErrorDevice, BadUrisFailCleanlyAndLeaveTheBaseUnclaimed) {
    Runtime rt({});
    auto base = create(rt, "malloc:///bbase?size_mb=1");
    ASSERT_TRUE(is_ok(base));
    const auto before = registry_names();
    struct Case {
        std::string query;
        int code;
        std::vector<std::string> words;
    };
    const Case cases[] = {
        {"base=bbase&fail=bogus", EINVAL, {"unknown I/O type 'bogus'"}},
        {"base=bbase&fail=read,bogus", EINVAL, {"bogus"}},
        {"base=bbase&fail=Read", EINVAL, {"'Read'"}},
        {"base=bbase&fail=read,,write", EINVAL, {"unknown I/O type"}},
        {"base=bbase&fail=", EINVAL, {"no I/O type"}},
        {"base=bbase&fail=write&errno=0", EINVAL, {"errno=0"}},
        {"base=bbase&fail=write&errno=4096", EINVAL, {"errno=4096"}},
        {"base=bbase&fail=write&errno=EIO", EINVAL, {"errno", "EIO"}},
        {"base=bbase&fail=write&count=0", EINVAL, {"count"}},
        {"base=bbase&fail=write&num_blocks=0", EINVAL, {"num_blocks"}},
        {"base=bbase&fail=write&count=-1", EINVAL, {"count"}},
        {"base=bbase&offset_blocks=3", EINVAL, {"need fail="}},
        {"base=bbase&count=3", EINVAL, {"need fail="}},
        {"base=bbase&errno=5", EINVAL, {"need fail="}},
        {"base=bbase&fail=write&colour=red", EINVAL, {"unknown parameter 'colour'"}},
        {"base=bbase&base=bbase", EINVAL, {"more than once"}},
        {"base=bbase&uuid=nope", EINVAL, {"uuid"}},
        {"fail=write", EINVAL, {"base="}},
        {"base=", EINVAL, {"base="}},
        {"base=nosuch", ENODEV, {"nosuch"}},
    };
    for (const Case& c : cases) {
        std::string uri = "error:///berr?" + c.query;
        SCOPED_TRACE(uri);
        EXPECT_TRUE(fails_with(create(rt, uri), c.code, c.words));
        EXPECT_EQ(registry_names(), before);
        EXPECT_EQ((*base)->claimed_by(), "");
        EXPECT_EQ((*base)->open_count(), 0);
    }
    EXPECT_TRUE(fails_with(create(rt, "error:///?base=bbase"), EINVAL, {"names no device"}));
    EXPECT_TRUE(fails_with(create(rt, "error://host/berr?base=bbase"), EINVAL, {"host"}));
    // The name of an existing device.
    EXPECT_TRUE(fails_with(create(rt, "error:///bbase?base=bbase"), EEXIST));
    EXPECT_EQ((*base)->claimed_by(), "");
    // A base claimed by someone else.
    ASSERT_TRUE(is_ok((*base)->claim("pool-1")));
    EXPECT_TRUE(fails_with(create(rt, "error:///berr?base=bbase"), EBUSY, {"pool-1"}));
    EXPECT_EQ((*base)->claimed_by(), "pool-1");
    EXPECT_EQ((*base)->open_count(), 0);
    (*base)->release_claim("pool-1");
    EXPECT_EQ(registry_names(), before);
    base->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///bbase")));
}

TEST(ErrorDevice, ParseIoTypes) {
    EXPECT_EQ(parse_io_types("read").value_or(0), io_type_bit(IoType::Read));
    EXPECT_EQ(parse_io_types("write,flush").value_or(0),
              io_type_bit(IoType::Write) | io_type_bit(IoType::Flush));
    EXPECT_EQ(parse_io_types("unmap,write_zeroes,reset").value_or(0),
              io_type_bit(IoType::Unmap) | io_type_bit(IoType::WriteZeroes) | io_type_bit(IoType::Reset));
    EXPECT_EQ(parse_io_types("all").value_or(0), (1u << kIoTypeCount) - 1);
    EXPECT_EQ(parse_io_types("read,read").value_or(0), io_type_bit(IoType::Read));
    EXPECT_TRUE(fails_with(parse_io_types(""), EINVAL));
    EXPECT_TRUE(fails_with(parse_io_types("write,"), EINVAL));
    EXPECT_TRUE(fails_with(parse_io_types("reads"), EINVAL, {"reads"}));
}

}  // namespace
}  // namespace ms::test
