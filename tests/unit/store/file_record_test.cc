// The file store's pure codecs: key file names and the record format.
#include "store/file_record.h"

#include <gtest/gtest.h>

namespace ms::store {
namespace {

TEST(KeyEncoding, PlainBytesStayAndOthersAreEscaped) {
    auto e = encode_key("nexus/ABC-def_09.x");
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, "nexus%2FABC-def_09%2Ex");
    auto d = decode_key(*e);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, "nexus/ABC-def_09.x");
}

TEST(KeyEncoding, EveryByteRoundTrips) {
    std::string key;
    for (int b = 0; b < 256; ++b) {
        key.push_back(static_cast<char>(b));
    }
    auto e = encode_key(key.substr(0, 80));
    ASSERT_TRUE(e) << e.error().to_string();
    auto d = decode_key(*e);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, key.substr(0, 80));
    // Names never hold '.', '/' or NUL: the suffixes and the directory stay unambiguous.
    for (std::size_t at = 80; at < 256; at += 80) {
        auto part = encode_key(key.substr(at, 80));
        ASSERT_TRUE(part);
        EXPECT_EQ(part->find_first_of(std::string("./\0", 3)), std::string::npos) << *part;
        EXPECT_EQ(decode_key(*part).value(), key.substr(at, 80));
    }
}

TEST(KeyEncoding, PrefixesArePreserved) {
    for (std::string key : {"nexus/1", "nexus/2/a", "nex", "n\xff/x", "a b"}) {
        for (std::string prefix : {"", "n", "nexus/", "nexus/2", "n\xff", "a "}) {
            bool is_prefix = key.starts_with(prefix);
            bool encoded_prefix = encode_key(key).value().starts_with(encode_prefix(prefix));
            EXPECT_EQ(is_prefix, encoded_prefix) << key << " / " << prefix;
        }
    }
}

TEST(KeyEncoding, EmptyAndTooLongKeysAreRefused) {
    EXPECT_EQ(encode_key("").error().code, EINVAL);
    EXPECT_TRUE(encode_key(std::string(kMaxEncodedKey, 'a')));
    EXPECT_EQ(encode_key(std::string(kMaxEncodedKey + 1, 'a')).error().code, ENAMETOOLONG);
    // 84 escaped bytes are 252 characters: one too many.
    EXPECT_EQ(encode_key(std::string(84, '/')).error().code, ENAMETOOLONG);
}

TEST(KeyEncoding, InvalidNamesAreNotDecoded) {
    for (std::string bad : {"", "a.b", "a%2", "a%", "%zz", "%2f", "%41", "a b"}) {
        auto d = decode_key(bad);
        EXPECT_FALSE(d) << bad;
        if (!d) {
            EXPECT_EQ(d.error().code, EINVAL);
        }
    }
}

TEST(Record, RoundTripsBinaryKeysAndValues) {
    std::string value("\0\x01\xff payload \0", 13);
    const std::string key("k/\0x", 4);
    std::string bytes = encode_record(key, value);
    EXPECT_EQ(bytes.size(), kRecordHeaderSize + 4 + value.size());
    auto r = decode_record(bytes);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->first, key);
    EXPECT_EQ(r->second, value);
    auto empty = decode_record(encode_record("k", ""));
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->second, "");
}

TEST(Record, EveryTruncationIsCaught) {
    std::string bytes = encode_record("key", "some value");
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode_record(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r) << n;
        EXPECT_EQ(r.error().code, EBADMSG);
    }
    auto longer = decode_record(bytes + "x");
    ASSERT_FALSE(longer);
    EXPECT_EQ(longer.error().code, EBADMSG);
}

TEST(Record, EveryFlippedByteIsCaught) {
    std::string bytes = encode_record("key", "some value");
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string bad = bytes;
        bad[i] = static_cast<char>(bad[i] ^ 0x10);
        auto r = decode_record(bad);
        ASSERT_FALSE(r) << i;
        EXPECT_EQ(r.error().code, EBADMSG) << i;
    }
}

TEST(Record, GarbageIsReportedNotTrusted) {
    auto r = decode_record("this is not a record at all, just some text in a file\n");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EBADMSG);
    EXPECT_NE(r.error().message.find("bad magic"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace ms::store
