#include "bdev/device_factory.h"

#include <gtest/gtest.h>

#include "bdev/device_registry.h"
#include "bdev_test_util.h"

namespace ms::test {
namespace {

// A URI that must fail with `code`, mentioning `words`, and leave the registry as it was.
void expect_create_fails(Runtime& rt, const std::string& uri, int code, std::vector<std::string> words) {
    SCOPED_TRACE(uri);
    const auto before = registry_names();
    EXPECT_TRUE(fails_with(create(rt, uri), code, std::move(words)));
    EXPECT_EQ(registry_names(), before);
}

TEST(DeviceFactory, UnknownSchemeNamesItAndTheKnownOnes) {
    Runtime rt({});
    expect_create_fails(rt, "nosuch:///d0?size_mb=1", EINVAL,
                        {"unknown URI scheme 'nosuch'", "malloc", "uring"});
    expect_create_fails(rt, "MALLOCX:///d0", EINVAL, {"'mallocx'"});
    EXPECT_TRUE(fails_with(destroy(rt, "nosuch:///d0"), EINVAL, {"nosuch"}));
}

TEST(DeviceFactory, MalformedUrisFailWithoutSideEffects) {
    Runtime rt({});
    expect_create_fails(rt, "", EINVAL, {"empty"});
    expect_create_fails(rt, "://m0?size_mb=1", EINVAL, {"scheme"});
    expect_create_fails(rt, "1malloc:///m0?size_mb=1", EINVAL, {"scheme"});
    expect_create_fails(rt, "malloc:///m0?size_mb=1#frag", EINVAL, {"fragment"});
    expect_create_fails(rt, "malloc:///m 0?size_mb=1", EINVAL, {"space"});
    expect_create_fails(rt, "malloc:///m0?size_mb=%zz", EINVAL, {"percent"});
    expect_create_fails(rt, "malloc:///m0?=1", EINVAL, {"without a name"});
    expect_create_fails(rt, "malloc://user@host/m0?size_mb=1", EINVAL, {"user"});
    expect_create_fails(rt, "malloc://host:0/m0?size_mb=1", EINVAL, {"port"});
    // A bare path with parameters is not a URI.
    expect_create_fails(rt, "/tmp/disk.img?blk_size=4096", EINVAL, {"no scheme"});
    expect_create_fails(rt, std::string("/tmp/dis\x01k.img"), EINVAL, {"control character"});
}

// malloc:// and null:// share one parser for their parameters.
class MemoryUriTest : public ::testing::TestWithParam<std::string> {
   protected:
    Runtime _rt{RuntimeOptions{}};
};

TEST_P(MemoryUriTest, BadParametersFailCleanly) {
    const std::string s = GetParam();
    expect_create_fails(_rt, s + ":///bad", EINVAL, {"exactly one of size_mb and num_blocks"});
    expect_create_fails(_rt, s + ":///bad?blk_size=512", EINVAL, {"exactly one of size_mb and num_blocks"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&num_blocks=16", EINVAL,
                        {"exactly one of size_mb and num_blocks"});
    expect_create_fails(_rt, s + ":///bad?size_mb=0", EINVAL, {"size_mb=0"});
    expect_create_fails(_rt, s + ":///bad?num_blocks=0", EINVAL, {"num_blocks=0"});
    expect_create_fails(_rt, s + ":///bad?size_mb=16777217", EINVAL, {"size_mb=16777217", "out of range"});
    expect_create_fails(_rt, s + ":///bad?num_blocks=34359738369", EINVAL, {"num_blocks", "out of range"});
    expect_create_fails(_rt, s + ":///bad?size_mb=18446744073709551615", EINVAL, {"out of range"});
    expect_create_fails(_rt, s + ":///bad?size_mb=18446744073709551616", EINVAL,
                        {"size_mb", "not a valid number"});
    expect_create_fails(_rt, s + ":///bad?size_mb=-1", EINVAL, {"size_mb", "not a valid number"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8MB", EINVAL, {"size_mb", "8MB"});
    expect_create_fails(_rt, s + ":///bad?size_mb=", EINVAL, {"size_mb"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&blk_size=1000", EINVAL,
                        {"blk_size must be 512 or 4096", "1000"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&blk_size=0", EINVAL, {"blk_size"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&blk_size=8192", EINVAL, {"blk_size"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&uuid=xyz", EINVAL, {"uuid", "xyz"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&uuid=0b5a7c3e1d2f4a6b8c9d0e1f2a3b4c5d", EINVAL, {"uuid"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5g", EINVAL,
                        {"uuid"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&size_mb=8", EINVAL, {"size_mb", "more than once"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&blk_size=512&blk_size=512", EINVAL,
                        {"blk_size", "more than once"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&colour=red", EINVAL, {"unknown parameter 'colour'"});
    expect_create_fails(_rt, s + ":///bad?size_mb=8&Size_MB=8", EINVAL, {"unknown parameter 'Size_MB'"});
    // No name, or a host where none belongs.
    expect_create_fails(_rt, s + ":///?size_mb=8", EINVAL, {"names no device"});
    expect_create_fails(_rt, s + "://?size_mb=8", EINVAL, {"names no device"});
    expect_create_fails(_rt, s + "://?", EINVAL, {"names no device"});
    expect_create_fails(_rt, s + "://somehost/bad?size_mb=8", EINVAL, {"must not have a host"});
    expect_create_fails(_rt, s + "://somehost:8080/bad?size_mb=8", EINVAL, {"must not have a host"});
    expect_create_fails(_rt, s + "://:8080/bad?size_mb=8", EINVAL, {"must not have a host"});
    EXPECT_EQ(DeviceRegistry::instance().lookup("bad"), nullptr);
}

TEST_P(MemoryUriTest, LargestSizeIsAccepted) {
    // 16 TiB of address space is reserved, not touched.
    const std::string uri = GetParam() + ":///huge?size_mb=16777216&blk_size=4096";
    auto dev = create(_rt, uri);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->num_blocks(), (uint64_t{1} << 44) / 4096);
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, uri)));
}

INSTANTIATE_TEST_SUITE_P(Schemes, MemoryUriTest, ::testing::Values("malloc", "null"));

// A path with no scheme is a file for Linux AIO.
TEST(DeviceFactory, BarePathCreatesAnAioDevice) {
    Runtime rt({});
    TempDir dir;
    std::string file = dir.file("bare.img");
    make_file(file, 1 << 20);
    auto dev = create(rt, file);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->product(), "AIO disk");
    EXPECT_EQ((*dev)->name(), file);
    EXPECT_EQ((*dev)->num_blocks(), (1u << 20) / 512);
    EXPECT_TRUE((*dev)->uri().starts_with("aio://" + file)) << (*dev)->uri();
    auto d = open_rw(*dev);
    auto data = random_bytes(4096, 8);
    EXPECT_TRUE(is_ok(write(rt, *d, 8192, data)));
    d.reset();
    dev->reset();
    // Destroyed by its bare name too.
    EXPECT_TRUE(is_ok(destroy(rt, file)));
    EXPECT_EQ(DeviceRegistry::instance().lookup(file), nullptr);
    EXPECT_TRUE(same_bytes(read_file(file, 8192, 4096), data));
    // A bare path that does not exist fails like aio:// does.
    EXPECT_TRUE(fails_with(create(rt, dir.file("nope.img")), ENOENT));
    EXPECT_FALSE(file_exists(dir.file("nope.img")));
}

// A relative bare path names the file in the current directory; the device's reported URI
// must still recreate it (a URI has no way to say "relative").
TEST(DeviceFactory, RelativeBarePathGivesAUsableUri) {
    Runtime rt({});
    TempDir dir;
    make_file(dir.file("rel.img"), 1 << 20);
    auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    auto dev = create(rt, "rel.img");
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(is_ok(dev));
    std::string reported = (*dev)->uri();
    Uuid uuid = (*dev)->uuid();
    std::string name = (*dev)->name();
    dev->reset();
    ASSERT_TRUE(is_ok(destroy(rt, name)));
    // From another directory, the reported URI finds the same file.
    dev = create(rt, reported);
    ASSERT_TRUE(is_ok(dev)) << reported;
    EXPECT_EQ((*dev)->uuid(), uuid);
    EXPECT_EQ((*dev)->num_blocks(), (1u << 20) / 512);
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, reported)));
    EXPECT_EQ(name, dir.file("rel.img"));
    EXPECT_EQ(DeviceRegistry::instance().lookup(name), nullptr);
    // Destroy by the relative path it was created with, from the same directory.
    std::filesystem::current_path(dir.path());
    dev = create(rt, "rel.img");
    Status destroyed = destroy(rt, "rel.img");
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(is_ok(dev));
    dev->reset();
    EXPECT_TRUE(is_ok(destroyed));
    EXPECT_EQ(DeviceRegistry::instance().lookup(name), nullptr);
}

TEST(DeviceFactory, ParseDeviceUri) {
    auto bare = parse_device_uri("/dev/sdb");
    ASSERT_TRUE(is_ok(bare));
    EXPECT_EQ(bare->scheme, "aio");
    EXPECT_EQ(bare->path, "/dev/sdb");
    EXPECT_TRUE(bare->query.empty());
    auto rel = parse_device_uri("disk.img");
    ASSERT_TRUE(is_ok(rel));
    EXPECT_EQ(rel->scheme, "aio");
    EXPECT_EQ(rel->path, (std::filesystem::current_path() / "disk.img").string());
    auto full = parse_device_uri("Malloc:///m0?size_mb=8&blk_size=4096");
    ASSERT_TRUE(is_ok(full));
    EXPECT_EQ(full->scheme, "malloc");
    EXPECT_EQ(full->path, "/m0");
    ASSERT_EQ(full->query.size(), 2u);
    EXPECT_EQ(full->query[1], (std::pair<std::string, std::string>{"blk_size", "4096"}));
    EXPECT_TRUE(fails_with(parse_device_uri(""), EINVAL));
    EXPECT_TRUE(fails_with(parse_device_uri("disk.img?x=1"), EINVAL));
    EXPECT_TRUE(fails_with(parse_device_uri("disk\x7f.img"), EINVAL));
}

TEST(DeviceFactory, NameFromPathAndMemorySpec) {
    auto uri = parse_uri("malloc:///m0?size_mb=2&blk_size=4096&uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    ASSERT_TRUE(is_ok(uri));
    auto name = name_from_path(*uri);
    ASSERT_TRUE(is_ok(name));
    EXPECT_EQ(*name, "m0");
    auto spec = parse_memory_device_uri(*uri);
    ASSERT_TRUE(is_ok(spec));
    EXPECT_EQ(spec->name, "m0");
    EXPECT_EQ(spec->geometry.block_size, 4096u);
    EXPECT_EQ(spec->geometry.num_blocks, 512u);
    EXPECT_EQ(spec->uuid.to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");

    auto nested = parse_uri("malloc:///a/b");
    ASSERT_TRUE(is_ok(nested));
    EXPECT_EQ(name_from_path(*nested).value_or(""), "a/b");
    auto host = parse_uri("malloc://h/m0");
    ASSERT_TRUE(is_ok(host));
    EXPECT_TRUE(fails_with(name_from_path(*host), EINVAL, {"host"}));

    QueryParams with(*uri);
    auto uuid = take_uuid_param(with);
    ASSERT_TRUE(is_ok(uuid));
    EXPECT_EQ(uuid->to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    EXPECT_TRUE(fails_with(with.finish(), EINVAL, {"size_mb"}));  // uuid taken, the rest is not
    QueryParams without(*nested);
    auto fresh = take_uuid_param(without);
    ASSERT_TRUE(is_ok(fresh));
    EXPECT_FALSE(fresh->is_nil());
}

TEST(DeviceFactory, SameNameTwiceIsEexistAndLeavesTheFirstAlone) {
    Runtime rt({});
    auto first = create(rt, "malloc:///dup?size_mb=2");
    ASSERT_TRUE(is_ok(first));
    auto d = open_rw(*first);
    auto data = random_bytes(8192, 1);
    ASSERT_TRUE(is_ok(write(rt, *d, 4096, data)));
    const Uuid uuid = (*first)->uuid();
    const std::string uri = (*first)->uri();

    for (std::string again :
         {"malloc:///dup?size_mb=4", "malloc:///dup?size_mb=2", "null:///dup?num_blocks=8"}) {
        SCOPED_TRACE(again);
        EXPECT_TRUE(fails_with(create(rt, again), EEXIST, {"dup"}));
        auto now = DeviceRegistry::instance().lookup("dup");
        EXPECT_EQ(now, *first);
    }
    EXPECT_EQ((*first)->num_blocks(), (2u << 20) / 512);
    EXPECT_EQ((*first)->uuid(), uuid);
    EXPECT_EQ((*first)->uri(), uri);
    auto back = read(rt, *d, 4096, 8192);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    d.reset();
    first->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///dup")));

    // Files are named by their path, whatever the scheme.
    TempDir dir;
    std::string file = dir.file("dup.img");
    make_file(file, 1 << 20);
    auto u = create(rt, "uring://" + file);
    ASSERT_TRUE(is_ok(u));
    EXPECT_TRUE(fails_with(create(rt, "aio://" + file), EEXIST));
    EXPECT_TRUE(fails_with(create(rt, "uring://" + file + "?blk_size=4096"), EEXIST));
    EXPECT_EQ(DeviceRegistry::instance().lookup(file), *u);
    EXPECT_EQ((*u)->block_size(), 512u);
    u->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "uring://" + file)));
}

TEST(DeviceFactory, UuidParameterIsTheDeviceUuidAndUriReportsIt) {
    Runtime rt({});
    const std::string uuid = "c0ffee00-1234-4abc-9def-00112233aabb";
    TempDir dir;
    std::string file = dir.file("u.img");
    make_file(file, 1 << 20);
    for (std::string uri :
         {"malloc:///withuuid?size_mb=1&uuid=" + uuid, "null:///withuuid?size_mb=1&uuid=" + uuid,
          "uring://" + file + "?uuid=" + uuid, "aio://" + file + "?uuid=" + uuid}) {
        SCOPED_TRACE(uri);
        auto dev = create(rt, uri);
        ASSERT_TRUE(is_ok(dev));
        EXPECT_EQ((*dev)->uuid().to_string(), uuid);
        EXPECT_NE((*dev)->uri().find("uuid=" + uuid), std::string::npos) << (*dev)->uri();
        EXPECT_EQ(DeviceRegistry::instance().lookup_uuid((*dev)->uuid()), *dev);
        dev->reset();
        EXPECT_TRUE(is_ok(destroy(rt, uri)));
    }
    // Upper case is accepted and means the same uuid.
    auto dev = create(rt, "malloc:///upper?size_mb=1&uuid=C0FFEE00-1234-4ABC-9DEF-00112233AABB");
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->uuid().to_string(), uuid);
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///upper")));
}

// The reported URI recreates the same device: same kind, geometry and uuid.
TEST(DeviceFactory, ReportedUriRecreatesTheDevice) {
    Runtime rt({});
    TempDir dir;
    std::string file = dir.file("r.img");
    make_file(file, 1 << 20);
    for (std::string uri :
         {std::string("malloc:///again?num_blocks=77&blk_size=4096"), std::string("null:///again?size_mb=3"),
          "uring://" + file + "?blk_size=4096", "aio://" + file}) {
        SCOPED_TRACE(uri);
        auto dev = create(rt, uri);
        ASSERT_TRUE(is_ok(dev));
        std::string reported = (*dev)->uri();
        Uuid uuid = (*dev)->uuid();
        Geometry g = (*dev)->geometry();
        std::string product = (*dev)->product();
        dev->reset();
        ASSERT_TRUE(is_ok(destroy(rt, uri)));
        dev = create(rt, reported);
        ASSERT_TRUE(is_ok(dev)) << reported;
        EXPECT_EQ((*dev)->uuid(), uuid);
        EXPECT_EQ((*dev)->geometry().block_size, g.block_size);
        EXPECT_EQ((*dev)->geometry().num_blocks, g.num_blocks);
        EXPECT_EQ((*dev)->product(), product);
        EXPECT_EQ((*dev)->uri(), reported);
        dev->reset();
        EXPECT_TRUE(is_ok(destroy(rt, reported)));
    }
}

TEST(DeviceFactory, DestroyErrors) {
    Runtime rt({});
    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///never-made"), ENODEV, {"never-made"}));
    EXPECT_TRUE(fails_with(destroy(rt, "never-made"), ENODEV));
    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///x?size_mb=1&size_mb=2"), EINVAL));
    EXPECT_TRUE(fails_with(destroy(rt, ""), EINVAL));
    // A device is destroyed once.
    ASSERT_TRUE(is_ok(create(rt, "malloc:///once?size_mb=1")));
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///once?size_mb=1")));
    EXPECT_TRUE(fails_with(destroy(rt, "malloc:///once"), ENODEV));
}

// ---- the factory mechanism itself, with a scheme registered by the test --------------------

struct FakeFactoryState {
    std::atomic<int> creates{0};
    std::shared_ptr<FakeDevice> last;
    std::string fail_with_name;  // make a device with this name instead of the URI's
};

FakeFactoryState& fake_state() {
    static FakeFactoryState s;
    return s;
}

void register_fake_factory() {
    DeviceFactory f;
    f.name_of = [](const Uri& uri) { return name_from_path(uri).value_or(""); };
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        ++fake_state().creates;
        auto spec = parse_memory_device_uri(uri);
        if (!spec) {
            co_return std::unexpected(spec.error());
        }
        std::string name = fake_state().fail_with_name.empty() ? spec->name : fake_state().fail_with_name;
        auto dev = std::make_shared<FakeDevice>(name, spec->geometry, ~0u, spec->uuid);
        fake_state().last = dev;
        co_return dev;
    };
    register_builtin_device_factories();
    register_device_factory("fake", std::move(f));
}

TEST(DeviceFactory, RegisteredSchemeIsUsedAndNameCheckedFirst) {
    register_fake_factory();
    Runtime rt({});
    fake_state().creates = 0;
    auto dev = create(rt, "fake:///f0?num_blocks=10");
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->product(), "Fake disk");
    EXPECT_EQ(fake_state().creates.load(), 1);
    // The name is taken: the factory is not even asked.
    EXPECT_TRUE(fails_with(create(rt, "fake:///f0?num_blocks=10"), EEXIST));
    EXPECT_EQ(fake_state().creates.load(), 1);

    // A device whose name collides only after it was made is shut down, not leaked.
    auto other = create(rt, "malloc:///collide?size_mb=1");
    ASSERT_TRUE(is_ok(other));
    fake_state().fail_with_name = "collide";
    EXPECT_TRUE(fails_with(create(rt, "fake:///f1?num_blocks=10"), EEXIST));
    fake_state().fail_with_name.clear();
    EXPECT_EQ(fake_state().last->shutdowns.load(), 1);
    EXPECT_EQ(DeviceRegistry::instance().lookup("collide"), *other);
    EXPECT_EQ(DeviceRegistry::instance().lookup("f1"), nullptr);

    auto f0 = std::static_pointer_cast<FakeDevice>(*dev);
    dev->reset();
    other->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "fake:///f0")));
    EXPECT_EQ(f0->shutdowns.load(), 1);
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///collide")));
    fake_state().last.reset();
}

}  // namespace
}  // namespace ms::test
