// libFuzzer target for the pool metadata loader (src/lvs/loader.h): the input is the start of
// a pool's metadata area (the rest reads as zeros), as an import would read it from a disk.
// Any input either loads, into a state that is consistent (its image encodes, decodes and
// encodes again to the same bytes; its counts add up), or fails with EUCLEAN, ENOMEDIUM or
// ENOTSUP and a message. Never a crash, an overrun or a huge allocation.
//
// Each input is loaded twice: as it is, and with the checksum of every page that looks like
// metadata recomputed, so that mutations get past the checksums into the decoders and the
// cross-reference checks behind them.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lvs/bytes.h"
#include "core/crc32c.h"
#include "lvs/format.h"
#include "lvs/loader.h"
#include "lvs/pool_state.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "lvs_metadata_fuzz: %s\n  %s\n", what, detail.c_str());
    std::abort();
}

void check_state(const ms::lvs::LoadedPool& p) {
    using namespace ms::lvs;
    const Layout& l = p.sb.layout;
    if (p.next_seq <= p.image_seq || p.log_tail > l.log_pages) {
        fail("log position out of range", std::to_string(p.next_seq) + " " + std::to_string(p.log_tail));
    }
    uint64_t owned = 0;
    for (const auto& [id, lvol] : p.state->lvols()) {
        owned += lvol->map.allocated();
        if (lvol->map.clusters() != p.state->clusters_of(lvol->size)) {
            fail("map size differs from the lvol size", lvol->name);
        }
        lvol->map.for_each([&](uint32_t, uint32_t phys) {
            if (phys >= l.data_clusters) {
                fail("cluster beyond the data area", lvol->name);
            }
        });
        for (const Lvol* x = lvol.get(); x != nullptr; x = x->parent) {
            if (x->parent != nullptr && x->parent->kind != LvolKind::Snapshot) {
                fail("parent is not a snapshot", x->name);
            }
        }
    }
    if (owned != p.state->used_clusters()) {
        fail("used clusters do not add up",
             std::to_string(owned) + " != " + std::to_string(p.state->used_clusters()));
    }
    std::vector<uint8_t> image;
    p.state->encode_image(p.next_seq - 1, image);
    uint64_t seq = 0;
    auto again = PoolState::decode_image(l, image, &seq);
    if (!again) {
        fail("the loaded state's image does not load", again.error().message);
    }
    std::vector<uint8_t> image2;
    (*again)->encode_image(seq, image2);
    if (image != image2) {
        fail("image round trip changes it",
             std::to_string(image.size()) + " vs " + std::to_string(image2.size()));
    }
}

void set_crc(std::span<uint8_t> page, std::size_t at) {
    ms::lvs::put_u32(page, at, 0);
    ms::lvs::put_u32(page, at, ms::crc32c(page));
}

void fix_checksums(std::vector<uint8_t>& area) {
    using namespace ms::lvs;
    for (std::size_t p = 0; (p + 1) * kPageSize <= area.size(); ++p) {
        std::span<uint8_t> page(area.data() + p * kPageSize, kPageSize);
        if (p < 2 && get_u64(page, 0) == kSuperMagic) {
            set_crc(page, 8);
        } else if (uint32_t m = get_u32(page, 0); m == kImageMagic || m == kLogMagic) {
            set_crc(page, 4);
        }
    }
}

void load(const std::vector<uint8_t>& area) {
    auto loaded = ms::lvs::load_metadata(area);
    if (!loaded) {
        int code = loaded.error().code;
        if ((code != EUCLEAN && code != ENOMEDIUM && code != ENOTSUP) || loaded.error().message.empty()) {
            fail("unexpected error", loaded.error().to_string());
        }
        return;
    }
    check_state(*loaded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    constexpr std::size_t kMinArea = 64 * 1024;
    std::vector<uint8_t> area(std::max(size, kMinArea), 0);
    if (size != 0) {
        std::memcpy(area.data(), data, size);
    }
    load(area);
    fix_checksums(area);
    load(area);
    return 0;
}
