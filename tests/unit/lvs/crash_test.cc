// Crash consistency, simulated: a sequence of pool operations runs on a disk that, after N
// writes, stores nothing more (the process died at that instant; the N+1-th write may be
// torn). The pool is then imported from what the disk holds, and its state (every lvol with
// its data) must be exactly the state after some prefix of the operations that includes every
// operation acknowledged before the crash. This is checked for every N from 0 to the number of
// writes the whole sequence makes.
//
// A second mode models power loss rather than a killed process: at the crash, writes to data
// clusters since the last completed flush are also undone (metadata writes since then are
// kept: the worst order for us). Operations there end with a flush, as an initiator's would.
#include <functional>

#include "core/crc32c.h"
#include "lvs_test_util.h"

namespace ms::test {
namespace {

enum class CrashMode { Kill, PowerLoss };

// A disk in memory whose bytes outlive the device object (a machine that reboots).
class CrashDisk final : public BlockDevice {
   public:
    CrashDisk(std::string name, std::shared_ptr<std::vector<uint8_t>> media, uint32_t bs, uint64_t budget,
              CrashMode mode, uint64_t metadata_bytes)
        : BlockDevice(std::move(name), "Crash disk", Geometry{bs, media->size() / bs, 1}, Uuid::generate()),
          _media(std::move(media)),
          _budget(budget),
          _mode(mode),
          _metadata_bytes(metadata_bytes) {}

    bool io_type_supported(IoType) const override { return true; }

    Task<Status> submit(IoChannel&, IoRequest req) override {
        const uint64_t bs = block_size();
        uint8_t* p = _media->data() + req.offset_blocks * bs;
        switch (req.type) {
            case IoType::Read:
                for (const iovec& v : req.iov) {
                    std::memcpy(v.iov_base, p, v.iov_len);
                    p += v.iov_len;
                }
                break;
            case IoType::Write:
            case IoType::Unmap:
            case IoType::WriteZeroes:
                store(req);
                break;
            case IoType::Flush:
                if (!_crashed) {
                    _undo.clear();
                }
                break;
            case IoType::Reset:
                break;
        }
        co_return ok();
    }

    uint64_t writes() const { return _writes; }
    bool crashed() const { return _crashed; }
    void crash() {
        if (_crashed) {
            return;
        }
        _crashed = true;
        if (_mode == CrashMode::PowerLoss) {
            for (auto it = _undo.rbegin(); it != _undo.rend(); ++it) {
                std::memcpy(_media->data() + it->first, it->second.data(), it->second.size());
            }
        }
        _undo.clear();
    }

   private:
    void store(const IoRequest& req) {
        if (_crashed) {
            return;
        }
        const uint64_t bs = block_size();
        const uint64_t offset = req.offset_blocks * bs;
        std::vector<uint8_t> data(req.num_blocks * bs, 0);
        if (req.type == IoType::Write) {
            std::size_t at = 0;
            for (const iovec& v : req.iov) {
                std::memcpy(data.data() + at, v.iov_base, v.iov_len);
                at += v.iov_len;
            }
        }
        uint64_t first = 0, last = req.num_blocks;
        if (_writes == _budget) {
            crash();
            // The write in progress when the process died: torn (block by block) if it is
            // metadata; a data write that was never acknowledged may simply be lost.
            if (offset >= _metadata_bytes || req.num_blocks < 2) {
                return;
            }
            (_budget % 2 == 0 ? last : first) = req.num_blocks / 2;
        } else {
            ++_writes;
            if (_mode == CrashMode::PowerLoss && offset >= _metadata_bytes) {
                _undo.emplace_back(offset, std::vector<uint8_t>(_media->begin() + offset,
                                                                _media->begin() + offset + data.size()));
            }
        }
        std::memcpy(_media->data() + offset + first * bs, data.data() + first * bs, (last - first) * bs);
    }

    std::shared_ptr<std::vector<uint8_t>> _media;
    uint64_t _budget;
    CrashMode _mode;
    uint64_t _metadata_bytes;
    uint64_t _writes = 0;
    bool _crashed = false;
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> _undo;
};

constexpr uint64_t kDiskSize = 16 * MiB;
constexpr uint64_t kUnlimited = ~uint64_t{0};

class CrashTest : public LvsTest, public ::testing::WithParamInterface<std::tuple<CrashMode, uint32_t>> {
   protected:
    void TearDown() override {
        for (const auto& p : pools().list()) {
            EXPECT_TRUE(is_ok(export_pool(_rt, p.name)));
        }
        (void)DeviceRegistry::instance().remove("crash0");
        LvsTest::TearDown();
    }
    CrashMode mode() const { return std::get<0>(GetParam()); }
    uint32_t bs() const { return std::get<1>(GetParam()); }

    std::shared_ptr<CrashDisk> attach(const std::shared_ptr<std::vector<uint8_t>>& media, uint64_t budget) {
        auto disk = std::make_shared<CrashDisk>("crash0", media, bs(), budget, mode(), MiB);
        EXPECT_TRUE(is_ok(DeviceRegistry::instance().add(disk)));
        return disk;
    }
    void detach() {
        for (const auto& p : pools().list()) {
            ASSERT_TRUE(is_ok(export_pool(_rt, p.name)));
        }
        ASSERT_TRUE(is_ok(DeviceRegistry::instance().remove("crash0")));
    }

    // The operations, each returning whether it was acknowledged (succeeded).
    std::vector<std::pair<std::string, std::function<bool()>>> operations() {
        std::vector<std::pair<std::string, std::function<bool()>>> ops;
        auto add = [&](std::string name, std::function<bool()> f) { ops.emplace_back(std::move(name), f); };
        const bool flush_writes = mode() == CrashMode::PowerLoss;
        auto write = [this, flush_writes](std::string lvol, uint64_t offset, std::size_t len, uint8_t v) {
            return [=, this] {
                auto d = open_device(lvol);
                if (!d || !is_ok(::ms::test::write(_rt, *d, offset, pattern(len, v)))) {
                    return false;
                }
                return !flush_writes || is_ok(flush(_rt, *d));
            };
        };
        add("create pool", [this] {
            CreatePoolOptions o;
            o.cluster_size = MiB;
            o.max_lvols = 16;
            o.log_pages = 4;
            return is_ok(create_pool(_rt, "cp", "bdev:///crash0", o));
        });
        add("create thick a", [this] { return is_ok(create_replica(_rt, "cp", "a", 3 * MiB, false)); });
        add("write a", write("a", 0, 4096, 1));
        add("create thin t", [this] { return is_ok(create_replica(_rt, "cp", "t", 4 * MiB, true)); });
        add("write t (allocates)", write("t", MiB + 4096, 8192, 2));
        add("write t at 0 (allocates)", write("t", 0, 4096, 3));
        add("write t again", write("t", 4096, 4096, 4));
        add("snapshot t", [this] { return is_ok(snapshot(_rt, "t", "s")); });
        add("write t (copy on write)", write("t", 0, 4096, 5));
        add("clone s", [this] { return is_ok(clone(_rt, "s", "c")); });
        add("write c (copy on write)", write("c", MiB, 4096, 6));
        add("write c (allocates)", write("c", 3 * MiB, 4096, 7));
        add("share t", [this] { return is_ok(set_share(_rt, "t", lvs::ShareProtocol::Nvmf)); });
        add("destroy a", [this] { return is_ok(destroy_replica(_rt, "a")); });
        add("create thick b", [this] { return is_ok(create_replica(_rt, "cp", "b", 2 * MiB, false)); });
        add("write b", write("b", MiB + 4096, 4096, 8));
        add("destroy c", [this] { return is_ok(destroy_replica(_rt, "c")); });
        add("destroy s (merge)", [this] { return is_ok(destroy_snapshot(_rt, "s")); });
        for (int i = 0; i < 6; ++i) {
            add("create x" + std::to_string(i), [this, i] {
                return is_ok(create_replica(_rt, "cp", "x" + std::to_string(i), 2 * MiB, true));
            });
        }
        add("write x5", write("x5", 0, 4096, 9));
        for (int i = 0; i < 3; ++i) {
            add("destroy x" + std::to_string(i),
                [this, i] { return is_ok(destroy_replica(_rt, "x" + std::to_string(i))); });
        }
        add("snapshot t again", [this] { return is_ok(snapshot(_rt, "t", "s2")); });
        add("write t (copy on write 2)", write("t", MiB, 4096, 10));
        add("destroy s2 (merge)", [this] { return is_ok(destroy_snapshot(_rt, "s2")); });
        return ops;
    }

    // Everything the pool shows: lvols with their properties and a checksum of their data.
    std::string observe() {
        if (!pools().get("cp")) {
            return "no pool";
        }
        std::vector<ReplicaInfo> all = pools().list_replicas();
        auto snaps = pools().list_snapshots();
        all.insert(all.end(), snaps.begin(), snaps.end());
        std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        std::string out = fmt::format("used {}\n", pools().get("cp")->used);
        for (const auto& r : all) {
            auto data = read_from(_rt, r.name, 0, r.size);
            out += fmt::format(
                "{} kind {} thin {} size {} allocated {} share {} parent '{}' clones {} data {:08x}\n",
                r.name, int(r.kind), r.thin, r.size, r.allocated, int(r.share), r.parent,
                fmt::join(r.clones, ","), crc32c(data));
        }
        return out;
    }
};

TEST_P(CrashTest, ImportAfterACrashAtEveryWriteShowsAPrefixOfTheOperations) {
    auto dirty = std::make_shared<std::vector<uint8_t>>(kDiskSize, uint8_t{0xEE});
    // The whole sequence without a crash: the state after each prefix, and the writes it takes.
    std::vector<std::string> expected{"no pool"};
    uint64_t total_writes = 0;
    {
        auto media = std::make_shared<std::vector<uint8_t>>(*dirty);
        auto disk = attach(media, kUnlimited);
        for (auto& [name, op] : operations()) {
            ASSERT_TRUE(op()) << name;
            expected.push_back(observe());
        }
        total_writes = disk->writes();
        // The log is small: the sequence goes through several checkpoints.
        EXPECT_GE(lvs::registered_pool("cp")->metadata().stats().checkpoints, 3u);
        detach();
    }
    ASSERT_GT(total_writes, 50u);
    std::printf("%zu operations, %llu writes: importing after a crash at each\n", expected.size() - 1,
                static_cast<unsigned long long>(total_writes));
    std::size_t checked = 0;
    for (uint64_t n = 0; n <= total_writes; ++n) {
        SCOPED_TRACE("crash after write " + std::to_string(n));
        auto media = std::make_shared<std::vector<uint8_t>>(*dirty);
        std::size_t acked = 0;  // operations acknowledged before the crash
        {
            auto disk = attach(media, n);
            for (auto& [name, op] : operations()) {
                bool done = op();
                if (!disk->crashed()) {
                    ASSERT_TRUE(done) << name;
                    ++acked;
                }
            }
            disk->crash();
            detach();
        }
        // Reboot: the same bytes on a new device.
        attach(media, kUnlimited);
        auto imported = import_pool(_rt, "cp", "bdev:///crash0");
        if (!imported) {
            ASSERT_EQ(imported.error().code, ENOMEDIUM) << imported.error().message;
        }
        std::string state = observe();
        std::size_t j = acked;
        while (j < expected.size() && expected[j] != state) {
            ++j;
        }
        ASSERT_LT(j, expected.size())
            << "the state after the crash is no prefix of the operations from " << acked << " on:\n"
            << state << "\nexpected at least:\n"
            << expected[acked];
        // The pool goes on from there: one more change survives another import.
        if (imported) {
            ASSERT_TRUE(is_ok(create_replica(_rt, "cp", "after", 2 * MiB, true)));
            ASSERT_TRUE(is_ok(write_to(_rt, "after", 0, pattern(4096, 0x42))));
            ASSERT_TRUE(is_ok(export_pool(_rt, "cp")));
            ASSERT_TRUE(is_ok(import_pool(_rt, "cp", "bdev:///crash0")));
            EXPECT_TRUE(same_bytes(read_from(_rt, "after", 0, 4096), pattern(4096, 0x42)));
        }
        detach();
        ++checked;
    }
    EXPECT_EQ(checked, total_writes + 1);
}

INSTANTIATE_TEST_SUITE_P(Modes, CrashTest,
                         ::testing::Combine(::testing::Values(CrashMode::Kill, CrashMode::PowerLoss),
                                            ::testing::Values(512u, 4096u)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param) == CrashMode::Kill ? "kill"
                                                                                           : "power") +
                                    "_bs" + std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace ms::test
