// The NBD server against a raw client (our codec over a plain socket) for what libnbd does not
// send: NBD_OPT_EXPORT_NAME, malformed handshakes and requests, clients that vanish mid-request
// (while another client keeps working), pipelined requests in one segment, structured error
// chunks, and the transmission-only path the kernel's driver uses, over a socket pair.
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <thread>

#include "target/nbd/nbd_test_util.h"

namespace ms::nbd::test {
namespace {

constexpr uint64_t kSize = 16ull << 20;

class NbdRawTest : public NbdServerTest {
   protected:
    // A libnbd client that must keep working while the raw one misbehaves.
    void SetUp() override {
        NbdServerTest::SetUp();
        good = connect(true);
        ASSERT_TRUE(good);
        good_data = pattern(65536, 4242);
        ASSERT_EQ(nbd_pwrite(good.get(), good_data.data(), good_data.size(), 8 << 20, 0), 0) << nbd_err();
    }
    void expect_good_client_works() {
        std::vector<uint8_t> back(good_data.size());
        ASSERT_EQ(nbd_pread(good.get(), back.data(), back.size(), 8 << 20, 0), 0) << nbd_err();
        EXPECT_EQ(back, good_data);
        // And new clients are still accepted.
        auto fresh = connect(false);
        ASSERT_TRUE(fresh);
        ASSERT_EQ(nbd_pread(fresh.get(), back.data(), back.size(), 8 << 20, 0), 0) << nbd_err();
        EXPECT_EQ(back, good_data);
    }
    void TearDown() override {
        good.reset();
        NbdServerTest::TearDown();
    }
    std::unique_ptr<RawClient> raw() {
        auto c = RawClient::connect_tcp(server->port());
        EXPECT_TRUE(c);
        return c;
    }
    std::unique_ptr<RawClient> in_transmission(bool structured) {
        auto c = raw();
        EXPECT_TRUE(c->start());
        if (structured) {
            EXPECT_TRUE(c->send_option(static_cast<uint32_t>(Option::StructuredReply)));
            auto r = c->read_option_reply();
            EXPECT_TRUE(r && r->h.type == kRepAck);
        }
        EXPECT_TRUE(c->go(name));
        return c;
    }

    NbdHandle good;
    std::vector<uint8_t> good_data;
};

TEST_F(NbdRawTest, ExportNameHandshakeWithAndWithoutZeroes) {
    for (bool no_zeroes : {true, false}) {
        auto c = raw();
        ASSERT_TRUE(c->start(kClientFlagFixedNewstyle | (no_zeroes ? kClientFlagNoZeroes : 0)));
        ASSERT_TRUE(c->send_option(
            static_cast<uint32_t>(Option::ExportName),
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(name.data()), name.size())));
        auto r = c->recv(kExportNameReplySize + (no_zeroes ? 0 : kExportNameZeroes));
        ASSERT_TRUE(r);
        auto reply = decode_export_name_reply(*r);
        ASSERT_TRUE(reply);
        EXPECT_EQ(reply->size, kSize);
        EXPECT_EQ(reply->tx_flags & kTxCanMultiConn, kTxCanMultiConn);
        // Transmission with simple replies: write, read back, disconnect.
        auto data = pattern(4096, no_zeroes ? 1 : 2);
        ASSERT_TRUE(c->request(Command::Write, 4096, 4096, 77, 0, data));
        auto w = c->simple_reply();
        ASSERT_TRUE(w);
        EXPECT_EQ(w->error, 0u);
        EXPECT_EQ(w->handle, 77u);
        ASSERT_TRUE(c->request(Command::Read, 4096, 4096, 78));
        auto rd = c->simple_reply();
        ASSERT_TRUE(rd);
        EXPECT_EQ(rd->error, 0u);
        EXPECT_EQ(rd->handle, 78u);
        auto back = c->recv(4096);
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, data);
        ASSERT_TRUE(c->request(Command::Disc, 0, 0, 79));
        EXPECT_TRUE(c->closed_by_peer());
    }
}

TEST_F(NbdRawTest, ExportNameUnknownCloses) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    const uint8_t n[] = {'x', 'y'};
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::ExportName), n));
    EXPECT_TRUE(c->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, UnknownOptionsAreUnsupportedNotFatal) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    for (uint32_t opt :
         {static_cast<uint32_t>(Option::StartTls), static_cast<uint32_t>(Option::SetMetaContext),
          static_cast<uint32_t>(Option::ExtendedHeaders), 1000u}) {
        const uint8_t junk[] = {0, 0, 0, 0};
        ASSERT_TRUE(c->send_option(opt, junk));
        auto r = c->read_option_reply();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->h.option, opt);
        EXPECT_EQ(r->h.type, kRepErrUnsup);
    }
    // Malformed known options: NBD_REP_ERR_INVALID.
    const uint8_t one[] = {1};
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::List), one));
    auto r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepErrInvalid);
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::StructuredReply), one));
    r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepErrInvalid);
    const uint8_t bad_info[] = {0, 0, 0, 9, 'a'};
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::Go), bad_info));
    r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepErrInvalid);
    // INFO for an unknown export.
    std::vector<uint8_t> info;
    append_info_request(info, InfoRequest{"unknown", {}});
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::Info), info));
    r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepErrUnknown);
    // Still negotiating: GO works.
    uint16_t flags = 0;
    ASSERT_TRUE(c->go(name, &flags));
    EXPECT_NE(flags & kTxHasFlags, 0);
}

TEST_F(NbdRawTest, InfoRepliesCarryWhatWasAsked) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    std::vector<uint8_t> info;
    append_info_request(info, InfoRequest{name, {kInfoName, kInfoDescription, kInfoBlockSize}});
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::Info), info));
    std::map<uint16_t, Info> got;
    for (;;) {
        auto r = c->read_option_reply();
        ASSERT_TRUE(r);
        if (r->h.type == kRepAck) {
            break;
        }
        ASSERT_EQ(r->h.type, kRepInfo);
        auto i = decode_info(r->payload);
        ASSERT_TRUE(i) << i.error().message;
        got[i->type] = *i;
    }
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[kInfoExport].size, kSize);
    EXPECT_EQ(got[kInfoName].text, name);
    EXPECT_EQ(got[kInfoDescription].text, "Malloc disk");
    EXPECT_EQ(got[kInfoBlockSize].minimum, 512u);
    EXPECT_EQ(got[kInfoBlockSize].preferred, 4096u);
    EXPECT_EQ(got[kInfoBlockSize].maximum, 32u << 20);
}

TEST_F(NbdRawTest, AbortIsAcknowledgedThenClosed) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    ASSERT_TRUE(c->send_option(static_cast<uint32_t>(Option::Abort)));
    auto r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepAck);
    EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(NbdRawTest, BadClientFlagsClose) {
    auto c = raw();
    ASSERT_TRUE(c->start(0x80000001u));
    EXPECT_TRUE(c->closed_by_peer());
    auto d = raw();
    ASSERT_TRUE(d->start(0));  // not fixed newstyle
    EXPECT_TRUE(d->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, GarbageInsteadOfOptionsCloses) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    auto junk = pattern(64, 5);
    ASSERT_TRUE(c->send(junk));
    EXPECT_TRUE(c->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, OversizedOptionIsRefusedAndCloses) {
    auto c = raw();
    ASSERT_TRUE(c->start());
    uint8_t h[kOptionHeaderSize];
    encode_option_header(std::span<uint8_t, kOptionHeaderSize>(h),
                         OptionHeader{static_cast<uint32_t>(Option::Go), 1u << 30});
    ASSERT_TRUE(c->send(h));
    auto r = c->read_option_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->h.type, kRepErrTooBig);
    EXPECT_TRUE(c->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, VanishDuringHandshake) {
    for (int step = 0; step < 4; ++step) {
        auto c = raw();
        if (step >= 1) {
            ASSERT_TRUE(c->start());
        }
        if (step >= 2) {
            // Half an option header.
            uint8_t h[kOptionHeaderSize];
            encode_option_header(std::span<uint8_t, kOptionHeaderSize>(h),
                                 OptionHeader{static_cast<uint32_t>(Option::Go), 100});
            ASSERT_TRUE(c->send(std::span<const uint8_t>(h, step == 2 ? 8 : kOptionHeaderSize)));
        }
        c->close();
    }
    expect_good_client_works();
}

TEST_F(NbdRawTest, BadRequestMagicCloses) {
    auto c = in_transmission(false);
    auto junk = pattern(kRequestSize, 6);
    ASSERT_TRUE(c->send(junk));
    EXPECT_TRUE(c->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, OversizedWriteCloses) {
    auto c = in_transmission(true);
    ASSERT_TRUE(c->request(Command::Write, 0, (32u << 20) + 512, 1));
    EXPECT_TRUE(c->closed_by_peer());
    expect_good_client_works();
}

TEST_F(NbdRawTest, DisconnectMidWrite) {
    auto c = in_transmission(false);
    auto part = pattern(1024, 7);
    // A 64 KiB write of which 1 KiB arrives; then the client is gone.
    ASSERT_TRUE(c->request(Command::Write, 0, 65536, 1, 0, part));
    c->close();
    expect_good_client_works();
    // Nothing of the partial write reached the device.
    std::vector<uint8_t> back(1024);
    ASSERT_EQ(nbd_pread(good.get(), back.data(), back.size(), 0, 0), 0);
    EXPECT_EQ(back, std::vector<uint8_t>(1024, 0));
}

TEST_F(NbdRawTest, DisconnectWithRequestsInFlight) {
    auto c = in_transmission(true);
    // Many reads whose replies nobody will read; then the client resets the connection.
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(c->request(Command::Read, 0, 65536, i));
    }
    linger l{1, 0};
    ::setsockopt(c->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    c->close();
    expect_good_client_works();
}

TEST_F(NbdRawTest, PipelinedRequestsInOneSend) {
    auto c = in_transmission(false);
    constexpr int kN = 100;
    std::vector<uint8_t> out;
    std::vector<std::vector<uint8_t>> data;
    for (int i = 0; i < kN; ++i) {
        data.push_back(pattern(4096, 300 + i));
        uint8_t h[kRequestSize];
        encode_request(std::span<uint8_t, kRequestSize>(h), Request{0, static_cast<uint16_t>(Command::Write),
                                                                    uint64_t(i), uint64_t(i) * 4096, 4096});
        out.insert(out.end(), h, h + sizeof h);
        out.insert(out.end(), data[i].begin(), data[i].end());
    }
    for (int i = 0; i < kN; ++i) {
        uint8_t h[kRequestSize];
        encode_request(
            std::span<uint8_t, kRequestSize>(h),
            Request{0, static_cast<uint16_t>(Command::Read), uint64_t(1000 + i), uint64_t(i) * 4096, 4096});
        out.insert(out.end(), h, h + sizeof h);
    }
    // Sent from another thread while this one reads the replies, as a real client would (the
    // replies would otherwise fill the socket buffers while the send still blocks).
    bool sent = false;
    std::thread sender([&] { sent = c->send(out); });
    // Each read sees the write before it in the stream: the malloc device completes at once, and
    // requests run in the order they are parsed (NBD itself promises no order between requests
    // in flight).
    int writes = 0;
    int reads = 0;
    for (int i = 0; i < 2 * kN; ++i) {
        auto r = c->simple_reply();
        if (!r || r->error != 0) {
            sender.join();
            FAIL() << "reply " << i;
        }
        if (r->handle < 1000) {
            ++writes;
            continue;
        }
        ++reads;
        auto back = c->recv(4096);
        EXPECT_TRUE(back && *back == data[r->handle - 1000]) << "read " << r->handle;
    }
    sender.join();
    EXPECT_TRUE(sent);
    EXPECT_EQ(writes, kN);
    EXPECT_EQ(reads, kN);
}

TEST_F(NbdRawTest, ErrorRepliesKeepTheStreamInSync) {
    auto c = in_transmission(false);
    auto data = pattern(4096, 8);
    // A write past the end: its payload is consumed, the error answered, the next request runs.
    ASSERT_TRUE(c->request(Command::Write, kSize, 4096, 1, 0, data));
    // Unknown command, bad flags, misaligned.
    ASSERT_TRUE(c->request(static_cast<Command>(42), 0, 0, 2));
    ASSERT_TRUE(c->request(Command::Read, 0, 512, 3, 0x4000));
    ASSERT_TRUE(c->request(Command::Write, 1, 512, 4, 0, std::vector<uint8_t>(512, 1)));
    ASSERT_TRUE(c->request(Command::Read, 0, (32u << 20) + 512, 5));
    ASSERT_TRUE(c->request(Command::Write, 0, 4096, 6, 0, data));
    std::map<uint64_t, uint32_t> errors;
    for (int i = 0; i < 6; ++i) {
        auto r = c->simple_reply();
        ASSERT_TRUE(r);
        errors[r->handle] = r->error;
    }
    EXPECT_EQ(errors[1], kEnospc);
    EXPECT_EQ(errors[2], kEinval);
    EXPECT_EQ(errors[3], kEinval);
    EXPECT_EQ(errors[4], kEinval);
    EXPECT_EQ(errors[5], kEinval);
    EXPECT_EQ(errors[6], 0u);
    ASSERT_TRUE(c->request(Command::Read, 0, 4096, 7));
    auto r = c->simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    EXPECT_EQ(*c->recv(4096), data);
}

TEST_F(NbdRawTest, StructuredReadChunks) {
    auto c = in_transmission(true);
    auto data = pattern(8192, 9);
    ASSERT_TRUE(c->request(Command::Write, 0, 8192, 1, 0, data));
    // Writes get simple replies even with structured replies on.
    auto w = c->simple_reply();
    ASSERT_TRUE(w);
    EXPECT_EQ(w->error, 0u);

    ASSERT_TRUE(c->request(Command::Read, 0, 8192, 2));
    auto hb = c->recv(kStructuredReplySize);
    ASSERT_TRUE(hb);
    auto h = decode_chunk_header(*hb);
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(h->type, kReplyTypeOffsetData);
    EXPECT_EQ(h->flags, kReplyFlagDone);
    EXPECT_EQ(h->handle, 2u);
    ASSERT_EQ(h->length, 8192u + 8);
    auto payload = c->recv(h->length);
    ASSERT_TRUE(payload);
    EXPECT_EQ(std::vector<uint8_t>(payload->begin(), payload->begin() + 8), std::vector<uint8_t>(8, 0));
    EXPECT_EQ(std::vector<uint8_t>(payload->begin() + 8, payload->end()), data);

    // A read past the end: an error chunk.
    ASSERT_TRUE(c->request(Command::Read, kSize, 512, 3));
    hb = c->recv(kStructuredReplySize);
    ASSERT_TRUE(hb);
    h = decode_chunk_header(*hb);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, kReplyTypeError);
    EXPECT_EQ(h->flags, kReplyFlagDone);
    EXPECT_EQ(h->handle, 3u);
    payload = c->recv(h->length);
    ASSERT_TRUE(payload);
    auto e = decode_error_chunk(h->type, *payload);
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->error, kEinval);
    EXPECT_FALSE(e->message.empty());

    // A zero-length read: NBD_REPLY_TYPE_NONE.
    ASSERT_TRUE(c->request(Command::Read, 0, 0, 4));
    hb = c->recv(kStructuredReplySize);
    ASSERT_TRUE(hb);
    h = decode_chunk_header(*hb);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, kReplyTypeNone);
    EXPECT_EQ(h->handle, 4u);
}

// ---- the transmission-only path (local_device) ----------------------------------------------

TEST_F(NbdRawTest, TransmissionOnlyOverSocketPair) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_TRUE(server->serve_transmission(name, sv[1]));
    RawClient k(sv[0]);  // speaks as the kernel's driver would: no handshake, simple replies
    auto data = pattern(65536, 10);
    ASSERT_TRUE(k.request(Command::Write, 1 << 20, 65536, 0xfeed, kCmdFlagFua, data));
    auto r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    EXPECT_EQ(r->handle, 0xfeedu);
    ASSERT_TRUE(k.request(Command::Flush, 0, 0, 2));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    ASSERT_TRUE(k.request(Command::Trim, (1 << 20) + 4096, 4096, 3));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    ASSERT_TRUE(k.request(Command::WriteZeroes, (1 << 20) + 8192, 4096, 4, kCmdFlagNoHole));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    ASSERT_TRUE(k.request(Command::Read, 1 << 20, 65536, 5));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, 0u);
    auto back = k.recv(65536);
    ASSERT_TRUE(back);
    std::fill(data.begin() + 4096, data.begin() + 12288, 0);
    EXPECT_EQ(*back, data);
    // Misaligned and past the end.
    ASSERT_TRUE(k.request(Command::Read, 100, 512, 6));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, kEinval);
    ASSERT_TRUE(k.request(Command::Write, kSize, 512, 7, 0, std::vector<uint8_t>(512)));
    r = k.simple_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, kEnospc);
    // The same data through the network path.
    std::vector<uint8_t> net(65536);
    ASSERT_EQ(nbd_pread(good.get(), net.data(), net.size(), 1 << 20, 0), 0);
    EXPECT_EQ(net, data);
    ASSERT_TRUE(k.request(Command::Disc, 0, 0, 8));
    EXPECT_TRUE(k.closed_by_peer());
}

TEST_F(NbdRawTest, TransmissionOnlyClosedByUnshare) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ASSERT_TRUE(server->serve_transmission(name, sv[1]));
    RawClient k(sv[0]);
    ASSERT_TRUE(k.request(Command::Read, 0, 512, 1));
    ASSERT_TRUE(k.simple_reply());
    ASSERT_TRUE(k.recv(512));
    good.reset();
    ASSERT_TRUE(server->unshare(name));
    EXPECT_EQ(dev->open_count(), 0);
    EXPECT_TRUE(k.closed_by_peer());
}

TEST_F(NbdRawTest, TransmissionOnlyUnknownExport) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    auto st = server->serve_transmission("nope", sv[1]);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ENOENT);
    RawClient k(sv[0]);
    EXPECT_TRUE(k.closed_by_peer());  // the server's end was closed
}

TEST_F(NbdRawTest, LocalDeviceWithoutKernelDriver) {
    // This machine's kernel has no nbd driver; without kernel_nbd.cc the server says so with
    // ENOTSUP. Either way the share leaves nothing behind.
    auto other = make_device("malloc:///local0?size_mb=1");
    target::ShareRequest req;
    req.device = other;
    req.options.local_device = true;
    auto u = server->share(req);
    if (u) {
        GTEST_SKIP() << "this kernel has an nbd driver: " << *u;
    }
    EXPECT_TRUE(u.error().code == ENOTSUP || u.error().code == ENODEV) << u.error().to_string();
    EXPECT_EQ(other->open_count(), 0);
    EXPECT_EQ(server->list().size(), 1u);
    expect_good_client_works();
}

}  // namespace
}  // namespace ms::nbd::test
