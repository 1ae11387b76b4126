// FileStore through the KvStore interface, on a real directory, driven from a reactor.
#include "store/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "../core/test_util.h"
#include "store/file_record.h"
#include "store/open_store.h"
#include "store_test_util.h"

namespace ms::test {
namespace {

using store::FileStore;

std::shared_ptr<store::KvStore> open_file_store(const std::string& dir) {
    auto s = FileStore::open(dir);
    EXPECT_TRUE(s) << describe(s);
    return s ? *s : nullptr;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(f.good()) << path;
}

std::vector<std::string> file_names(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

class FileStoreTest : public ::testing::Test {
   protected:
    TempDir _tmp;
    Runtime _rt{RuntimeOptions{}};
};

TEST_F(FileStoreTest, PutGetListRemove) {
    auto s = open_file_store(_tmp.sub("store"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->describe(), "file:" + _tmp.sub("store"));
    auto missing = get(_rt, s, "nexus/a");
    ASSERT_TRUE(missing) << describe(missing);
    EXPECT_FALSE(*missing);

    ASSERT_TRUE(put(_rt, s, "nexus/b", "two"));
    ASSERT_TRUE(put(_rt, s, "nexus/a", "one"));
    ASSERT_TRUE(put(_rt, s, "pool/a", "other"));
    EXPECT_EQ(get(_rt, s, "nexus/a").value(), std::optional<std::string>("one"));
    EXPECT_EQ(get(_rt, s, "nexus/b").value(), std::optional<std::string>("two"));

    auto all = list(_rt, s, "");
    ASSERT_TRUE(all) << describe(all);
    EXPECT_EQ(*all, (KvPairs{{"nexus/a", "one"}, {"nexus/b", "two"}, {"pool/a", "other"}}));
    auto nexuses = list(_rt, s, "nexus/");
    ASSERT_TRUE(nexuses);
    EXPECT_EQ(*nexuses, (KvPairs{{"nexus/a", "one"}, {"nexus/b", "two"}}));
    EXPECT_EQ(list(_rt, s, "nexus/c").value(), KvPairs{});

    ASSERT_TRUE(remove(_rt, s, "nexus/a"));
    EXPECT_FALSE(get(_rt, s, "nexus/a").value());
    EXPECT_TRUE(remove(_rt, s, "nexus/a")) << "removing a missing key is ok";
    EXPECT_EQ(list(_rt, s, "nexus/").value(), (KvPairs{{"nexus/b", "two"}}));
}

TEST_F(FileStoreTest, OverwriteReplacesTheValue) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    ASSERT_TRUE(put(_rt, s, "k", std::string(100000, 'x')));
    ASSERT_TRUE(put(_rt, s, "k", "short"));
    EXPECT_EQ(get(_rt, s, "k").value(), std::optional<std::string>("short"));
    EXPECT_EQ(list(_rt, s, "").value(), (KvPairs{{"k", "short"}}));
    EXPECT_EQ(file_names(_tmp.path()), std::vector<std::string>{"k.kv"});
}

TEST_F(FileStoreTest, ValuesAndKeysAreBinarySafe) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    std::string value = binary_value(70000, 3);
    std::string key("a/\0b\xff..\n/", 10);
    ASSERT_TRUE(put(_rt, s, key, value));
    ASSERT_TRUE(put(_rt, s, "empty", ""));
    EXPECT_EQ(get(_rt, s, key).value(), std::optional<std::string>(value));
    EXPECT_EQ(get(_rt, s, "empty").value(), std::optional<std::string>(""));
    EXPECT_EQ(list(_rt, s, std::string("a/\0", 3)).value(), (KvPairs{{key, value}}));
}

TEST_F(FileStoreTest, ListIsSortedByKeyBytes) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    // File names sort differently ('%' before letters): the order must come from the keys.
    for (std::string k : {"b", "a/z", "a.", "\xff", "A", "a"}) {
        ASSERT_TRUE(put(_rt, s, k, "v" + k));
    }
    auto all = list(_rt, s, "");
    ASSERT_TRUE(all);
    std::vector<std::string> keys;
    for (auto& [k, v] : *all) {
        EXPECT_EQ(v, "v" + k);
        keys.push_back(k);
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"A", "a", "a.", "a/z", "b", "\xff"}));
}

TEST_F(FileStoreTest, EmptyAndOverlongKeysAreRefused) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    EXPECT_EQ(put(_rt, s, "", "v").error().code, EINVAL);
    EXPECT_EQ(get(_rt, s, "").error().code, EINVAL);
    auto long_put = put(_rt, s, std::string(300, 'k'), "v");
    ASSERT_FALSE(long_put);
    EXPECT_EQ(long_put.error().code, ENAMETOOLONG);
    EXPECT_TRUE(file_names(_tmp.path()).empty());
}

TEST_F(FileStoreTest, ANewObjectSeesTheData) {
    std::string dir = _tmp.sub("d");
    {
        auto s = open_file_store(dir);
        ASSERT_TRUE(s);
        ASSERT_TRUE(put(_rt, s, "nexus/1", "children: a b"));
        ASSERT_TRUE(put(_rt, s, "nexus/2", binary_value(5000, 1)));
        ASSERT_TRUE(remove(_rt, s, "nexus/2"));
        ASSERT_TRUE(put(_rt, s, "nexus/3", "three"));
    }
    auto s = open_file_store(dir);
    ASSERT_TRUE(s);
    EXPECT_EQ(list(_rt, s, "").value(), (KvPairs{{"nexus/1", "children: a b"}, {"nexus/3", "three"}}));
}

TEST_F(FileStoreTest, OpenCreatesAPrivateDirectoryAndItsParents) {
    std::string dir = _tmp.sub("a/b/store");
    auto s = open_file_store(dir + "/");
    ASSERT_TRUE(s);
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_TRUE(put(_rt, s, "k", "v"));
    EXPECT_EQ(file_names(dir), std::vector<std::string>{"k.kv"});
}

TEST_F(FileStoreTest, OpenFailsClearlyWhereNoDirectoryCanBe) {
    write_file(_tmp.sub("file"), "x");
    auto s = FileStore::open(_tmp.sub("file"));
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ENOTDIR);
    EXPECT_NE(s.error().message.find(_tmp.sub("file")), std::string::npos) << s.error().message;

    auto below = FileStore::open(_tmp.sub("file/store"));
    ASSERT_FALSE(below);
    EXPECT_EQ(below.error().code, ENOTDIR) << below.error().to_string();

    EXPECT_EQ(FileStore::open("").error().code, EINVAL);
}

TEST_F(FileStoreTest, OpenFailsClearlyWhereTheDirectoryCannotBeMade) {
    // procfs refuses new directories, even to root.
    auto s = FileStore::open("/proc/ms_store_test/store");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("cannot create directory '/proc/ms_store_test'"), std::string::npos)
        << s.error().message;
    if (::geteuid() != 0) {  // root writes into a read-only directory
        std::string dir = _tmp.sub("ro");
        ASSERT_EQ(::mkdir(dir.c_str(), 0500), 0);
        auto ro = FileStore::open(dir);
        ASSERT_FALSE(ro);
        EXPECT_EQ(ro.error().code, EACCES);
        EXPECT_NE(ro.error().message.find(dir), std::string::npos) << ro.error().message;
    }
}

TEST_F(FileStoreTest, OpenRemovesLeftoverTempFilesOnly) {
    std::string dir = _tmp.path();
    write_file(dir + "/k.tmp", "half a put");
    write_file(dir + "/k.kv", store::encode_record("k", "old"));
    write_file(dir + "/README", "not the store's");
    auto s = open_file_store(dir);
    ASSERT_TRUE(s);
    EXPECT_EQ(file_names(dir), (std::vector<std::string>{"README", "k.kv"}));
    EXPECT_EQ(list(_rt, s, "").value(), (KvPairs{{"k", "old"}}));
}

TEST_F(FileStoreTest, AGarbageFileIsReportedByName) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    ASSERT_TRUE(put(_rt, s, "good", "value"));
    write_file(_tmp.sub("bad.kv"), "garbage, not a record");
    std::string bad_path = _tmp.sub("bad.kv");

    auto g = get(_rt, s, "bad");
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, EBADMSG);
    EXPECT_NE(g.error().message.find(bad_path), std::string::npos) << g.error().message;

    auto l = list(_rt, s, "");
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, EBADMSG);
    EXPECT_NE(l.error().message.find(bad_path), std::string::npos) << l.error().message;

    // Other keys are unaffected.
    EXPECT_EQ(get(_rt, s, "good").value(), std::optional<std::string>("value"));
    EXPECT_EQ(list(_rt, s, "go").value(), (KvPairs{{"good", "value"}}));
    // A put repairs the key.
    ASSERT_TRUE(put(_rt, s, "bad", "fixed"));
    EXPECT_EQ(list(_rt, s, "").value(), (KvPairs{{"bad", "fixed"}, {"good", "value"}}));
}

TEST_F(FileStoreTest, CorruptOrMisplacedRecordsAreReported) {
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    ASSERT_TRUE(put(_rt, s, "a", "value of a"));
    // A flipped byte in the value.
    std::string rec = store::encode_record("a", "value of a");
    rec.back() ^= 1;
    write_file(_tmp.sub("a.kv"), rec);
    auto g = get(_rt, s, "a");
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().code, EBADMSG);
    EXPECT_NE(g.error().message.find("checksum"), std::string::npos) << g.error().message;
    // Another key's record under this name.
    write_file(_tmp.sub("a.kv"), store::encode_record("b", "v"));
    auto moved = get(_rt, s, "a");
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code, EBADMSG);
    // A name that is no valid encoding.
    write_file(_tmp.sub("x%zz.kv"), store::encode_record("x", "v"));
    auto l = list(_rt, s, "x");
    ASSERT_FALSE(l);
    EXPECT_NE(l.error().message.find("x%zz.kv"), std::string::npos) << l.error().message;
}

TEST_F(FileStoreTest, CallsFromManyTasksAndReactorsAllLand) {
    Runtime rt(runtime_options(two_cpus()));
    auto s = open_file_store(_tmp.path());
    ASSERT_TRUE(s);
    constexpr int kKeys = 40;
    std::vector<std::thread> threads;
    for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&, r] {
            for (int i = r; i < kKeys; i += 2) {
                EXPECT_TRUE(put(rt, s, "k/" + std::to_string(100 + i), "v" + std::to_string(i), r));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    auto all = list(rt, s, "k/");
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), static_cast<std::size_t>(kKeys));
    for (int i = 0; i < kKeys; ++i) {
        EXPECT_EQ((*all)[i], std::pair("k/" + std::to_string(100 + i), "v" + std::to_string(i)));
    }
}

TEST_F(FileStoreTest, OpenStoreWithoutAnEndpointIsTheFileStore) {
    store::StoreSpec spec;
    spec.dir = _tmp.sub("via-spec");
    auto s = store::open_store(spec);
    ASSERT_TRUE(s) << describe(s);
    EXPECT_EQ((*s)->describe(), "file:" + spec.dir);
    ASSERT_TRUE(put(_rt, *s, "k", "v"));
    EXPECT_EQ(file_names(spec.dir), std::vector<std::string>{"k.kv"});
    EXPECT_EQ(store::StoreSpec{}.dir, "/var/lib/mayastor/store");
}

}  // namespace
}  // namespace ms::test
