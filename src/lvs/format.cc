#include "lvs/format.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "lvs/bytes.h"
#include "core/crc32c.h"

namespace ms::lvs {
namespace {

// Superblock field offsets (docs/lvs-format.md).
constexpr std::size_t kSbMagic = 0x000;
constexpr std::size_t kSbCrc = 0x008;
constexpr std::size_t kSbVersion = 0x00c;
constexpr std::size_t kSbIncompat = 0x010;
constexpr std::size_t kSbSlot = 0x014;
constexpr std::size_t kSbUuid = 0x018;
constexpr std::size_t kSbCreated = 0x028;
constexpr std::size_t kSbDeviceBytes = 0x030;
constexpr std::size_t kSbBlockSize = 0x038;
constexpr std::size_t kSbPageSize = 0x03c;
constexpr std::size_t kSbClusterSize = 0x040;
constexpr std::size_t kSbMetadataClusters = 0x048;
constexpr std::size_t kSbDataClusters = 0x04c;
constexpr std::size_t kSbMaxLvols = 0x050;
constexpr std::size_t kSbImagePages = 0x054;
constexpr std::size_t kSbLogPages = 0x058;
constexpr std::size_t kSbNameLen = 0x05c;
constexpr std::size_t kSbName = 0x060;
constexpr std::size_t kSbNameMax = 256;

// Page header field offsets.
constexpr std::size_t kPgMagic = 0x00;
constexpr std::size_t kPgCrc = 0x04;
constexpr std::size_t kPgUuid = 0x08;
constexpr std::size_t kPgSeq = 0x18;
constexpr std::size_t kPgIndex = 0x20;
constexpr std::size_t kPgCount = 0x24;
constexpr std::size_t kPgUsed = 0x28;

uint32_t page_crc(std::span<const uint8_t> page, std::size_t crc_at) {
    static constexpr uint8_t zeros[4] = {0, 0, 0, 0};
    uint32_t c = crc32c(page.first(crc_at));
    c = crc32c(zeros, c);
    return crc32c(page.subspan(crc_at + 4), c);
}

bool valid_block_size(uint64_t bs) {
    return bs == 512 || bs == 4096;
}

bool valid_cluster_size(uint64_t cs) {
    return std::has_single_bit(cs) && cs >= kMinClusterSize && cs <= kMaxClusterSize;
}

Uuid uuid_at(std::span<const uint8_t> b, std::size_t at) {
    std::array<uint8_t, 16> u{};
    std::memcpy(u.data(), b.data() + at, 16);
    return Uuid(u);
}

}  // namespace

uint64_t pages_for(uint64_t stream_bytes) {
    return std::max<uint64_t>(1, (stream_bytes + kPagePayload - 1) / kPagePayload);
}

uint64_t image_pages_needed(uint64_t max_lvols, uint64_t clusters) {
    return pages_for(kImageHeaderBytes + max_lvols * kMaxLvolBytes + clusters * kExtentBytes);
}

uint64_t record_pages_needed(uint64_t clusters) {
    return pages_for(kRecordHeaderBytes + kMaxLvolBytes + clusters * kExtentBytes);
}

Result<Layout> compute_layout(const LayoutRequest& req) {
    if (!valid_block_size(req.block_size)) {
        return errorf(EINVAL, "a pool needs 512- or 4096-byte blocks, the device has {}-byte blocks",
                      req.block_size);
    }
    if (!valid_cluster_size(req.cluster_size)) {
        return errorf(EINVAL, "cluster size {} is not a power of two between 1 MiB and 1 GiB",
                      req.cluster_size);
    }
    if (req.max_lvols > kMaxLvolsLimit) {
        return errorf(EINVAL, "at most {} lvols per pool, not {}", kMaxLvolsLimit, req.max_lvols);
    }
    const uint64_t cs = req.cluster_size;
    const uint64_t n = std::min<uint64_t>(req.device_bytes / cs, kMaxClusters);
    if (n < 2) {
        return errorf(ENOSPC, "a device of {} bytes is too small for a pool of {}-byte clusters",
                      req.device_bytes, cs);
    }
    Layout l;
    l.block_size = req.block_size;
    l.cluster_size = cs;
    l.max_lvols =
        req.max_lvols != 0 ? req.max_lvols : static_cast<uint32_t>(std::clamp<uint64_t>(n, 1024, 65536));
    const uint64_t image = image_pages_needed(l.max_lvols, n);
    const uint64_t min_log = record_pages_needed(n);
    uint64_t log = std::max<uint64_t>(req.log_pages != 0 ? req.log_pages : 256, min_log);
    const uint64_t pages = 2 + 2 * image + log;
    const uint64_t pages_per_cluster = cs / kPageSize;
    const uint64_t m = (pages + pages_per_cluster - 1) / pages_per_cluster;
    if (m >= n) {
        return errorf(
            ENOSPC, "a device of {} bytes is too small for a pool: its metadata needs {} of its {} clusters",
            req.device_bytes, m, n);
    }
    if (req.log_pages == 0) {
        log = m * pages_per_cluster - 2 - 2 * image;  // the log gets the rest of the metadata clusters
    }
    if (image > kMaxClusters || log > kMaxClusters) {
        return errorf(EINVAL, "metadata of a pool of {} clusters does not fit the format", n);
    }
    l.metadata_clusters = static_cast<uint32_t>(m);
    l.data_clusters = static_cast<uint32_t>(n - m);
    l.image_pages = static_cast<uint32_t>(image);
    l.log_pages = static_cast<uint32_t>(log);
    return l;
}

Status check_layout(const Layout& l) {
    if (!valid_block_size(l.block_size)) {
        return errorf(EUCLEAN, "block size {} is not 512 or 4096", l.block_size);
    }
    if (!valid_cluster_size(l.cluster_size)) {
        return errorf(EUCLEAN, "cluster size {} is not a power of two between 1 MiB and 1 GiB",
                      l.cluster_size);
    }
    const uint64_t n = uint64_t{l.metadata_clusters} + l.data_clusters;
    if (l.metadata_clusters == 0 || l.data_clusters == 0 || n > kMaxClusters) {
        return errorf(EUCLEAN, "cluster counts {} (metadata) + {} (data) are out of range",
                      l.metadata_clusters, l.data_clusters);
    }
    if (l.max_lvols == 0 || l.max_lvols > kMaxLvolsLimit) {
        return errorf(EUCLEAN, "lvol limit {} is out of range", l.max_lvols);
    }
    if (l.image_pages < image_pages_needed(l.max_lvols, n)) {
        return errorf(EUCLEAN, "image areas of {} pages cannot hold {} lvols and {} clusters", l.image_pages,
                      l.max_lvols, n);
    }
    if (l.log_pages < record_pages_needed(n)) {
        return errorf(EUCLEAN, "a log of {} pages is too small for {} clusters", l.log_pages, n);
    }
    if (l.metadata_pages() * kPageSize > l.data_offset()) {
        return errorf(EUCLEAN, "{} metadata pages do not fit in {} clusters of {} bytes", l.metadata_pages(),
                      l.metadata_clusters, l.cluster_size);
    }
    return ok();
}

void encode_superblock(const Superblock& sb, uint32_t slot, std::span<uint8_t> page) {
    std::fill(page.begin(), page.end(), uint8_t{0});
    put_u64(page, kSbMagic, kSuperMagic);
    put_u32(page, kSbVersion, kFormatVersion);
    put_u32(page, kSbIncompat, 0);
    put_u32(page, kSbSlot, slot);
    std::memcpy(page.data() + kSbUuid, sb.uuid.bytes().data(), 16);
    put_u64(page, kSbCreated, sb.created);
    put_u64(page, kSbDeviceBytes, sb.device_bytes);
    put_u32(page, kSbBlockSize, sb.layout.block_size);
    put_u32(page, kSbPageSize, kPageSize);
    put_u64(page, kSbClusterSize, sb.layout.cluster_size);
    put_u32(page, kSbMetadataClusters, sb.layout.metadata_clusters);
    put_u32(page, kSbDataClusters, sb.layout.data_clusters);
    put_u32(page, kSbMaxLvols, sb.layout.max_lvols);
    put_u32(page, kSbImagePages, sb.layout.image_pages);
    put_u32(page, kSbLogPages, sb.layout.log_pages);
    std::size_t n = std::min(sb.name.size(), kSbNameMax - 1);
    put_u32(page, kSbNameLen, static_cast<uint32_t>(n));
    std::memcpy(page.data() + kSbName, sb.name.data(), n);
    put_u32(page, kSbCrc, page_crc(page, kSbCrc));
}

Result<Superblock> decode_superblock(std::span<const uint8_t> page, uint32_t slot) {
    if (page.size() < kPageSize) {
        return errorf(EUCLEAN, "superblock page is truncated ({} bytes)", page.size());
    }
    page = page.first(kPageSize);
    if (get_u64(page, kSbMagic) != kSuperMagic) {
        return make_error(ENOMEDIUM, "no pool superblock magic");
    }
    if (get_u32(page, kSbCrc) != page_crc(page, kSbCrc)) {
        return errorf(EUCLEAN, "checksum mismatch (stored {:#010x}, computed {:#010x})",
                      get_u32(page, kSbCrc), page_crc(page, kSbCrc));
    }
    uint32_t version = get_u32(page, kSbVersion);
    if (version != kFormatVersion) {
        return errorf(ENOTSUP, "format version {} (this program reads version {})", version, kFormatVersion);
    }
    if (uint32_t f = get_u32(page, kSbIncompat); f != 0) {
        return errorf(ENOTSUP, "unknown incompatible features {:#x}", f);
    }
    if (uint32_t s = get_u32(page, kSbSlot); s != slot) {
        return errorf(EUCLEAN, "copy {} found where copy {} belongs", s, slot);
    }
    if (uint32_t ps = get_u32(page, kSbPageSize); ps != kPageSize) {
        return errorf(EUCLEAN, "metadata page size {} (expected {})", ps, kPageSize);
    }
    Superblock sb;
    sb.uuid = uuid_at(page, kSbUuid);
    sb.created = get_u64(page, kSbCreated);
    sb.device_bytes = get_u64(page, kSbDeviceBytes);
    sb.layout.block_size = get_u32(page, kSbBlockSize);
    sb.layout.cluster_size = get_u64(page, kSbClusterSize);
    sb.layout.metadata_clusters = get_u32(page, kSbMetadataClusters);
    sb.layout.data_clusters = get_u32(page, kSbDataClusters);
    sb.layout.max_lvols = get_u32(page, kSbMaxLvols);
    sb.layout.image_pages = get_u32(page, kSbImagePages);
    sb.layout.log_pages = get_u32(page, kSbLogPages);
    uint32_t name_len = get_u32(page, kSbNameLen);
    if (name_len == 0 || name_len >= kSbNameMax) {
        return errorf(EUCLEAN, "pool name length {} is out of range", name_len);
    }
    sb.name.assign(reinterpret_cast<const char*>(page.data() + kSbName), name_len);
    if (sb.name.find('\0') != std::string::npos) {
        return make_error(EUCLEAN, "pool name contains a NUL byte");
    }
    if (sb.uuid.is_nil()) {
        return make_error(EUCLEAN, "nil pool uuid");
    }
    if (Status s = check_layout(sb.layout); !s) {
        return std::unexpected(s.error());
    }
    return sb;
}

void frame_stream(std::span<const uint8_t> stream, uint32_t magic, const Uuid& pool, uint64_t seq,
                  std::span<uint8_t> out) {
    const uint64_t count = pages_for(stream.size());
    std::size_t at = 0;
    for (uint64_t i = 0; i < count; ++i) {
        std::span<uint8_t> page = out.subspan(i * kPageSize, kPageSize);
        std::size_t used = std::min<std::size_t>(kPagePayload, stream.size() - at);
        std::fill(page.begin(), page.end(), uint8_t{0});
        put_u32(page, kPgMagic, magic);
        std::memcpy(page.data() + kPgUuid, pool.bytes().data(), 16);
        put_u64(page, kPgSeq, seq);
        put_u32(page, kPgIndex, static_cast<uint32_t>(i));
        put_u32(page, kPgCount, static_cast<uint32_t>(count));
        put_u32(page, kPgUsed, static_cast<uint32_t>(used));
        if (used != 0) {
            std::memcpy(page.data() + kPageHeaderSize, stream.data() + at, used);
        }
        at += used;
        put_u32(page, kPgCrc, page_crc(page, kPgCrc));
    }
}

Result<PageHeader> check_page(std::span<const uint8_t> page, uint32_t magic, const Uuid& pool) {
    PageHeader h;
    h.magic = get_u32(page, kPgMagic);
    if (h.magic != magic) {
        return errorf(EUCLEAN, "bad magic {:#010x} (expected {:#010x})", h.magic, magic);
    }
    uint32_t stored = get_u32(page, kPgCrc), computed = page_crc(page, kPgCrc);
    if (stored != computed) {
        return errorf(EUCLEAN, "checksum mismatch (stored {:#010x}, computed {:#010x})", stored, computed);
    }
    h.pool = uuid_at(page, kPgUuid);
    if (h.pool != pool) {
        return errorf(EUCLEAN, "page of another pool ({})", h.pool.to_string());
    }
    h.seq = get_u64(page, kPgSeq);
    h.index = get_u32(page, kPgIndex);
    h.count = get_u32(page, kPgCount);
    h.used = get_u32(page, kPgUsed);
    if (h.count == 0 || h.index >= h.count) {
        return errorf(EUCLEAN, "page {} of {} is out of range", h.index, h.count);
    }
    if (h.used > kPagePayload) {
        return errorf(EUCLEAN, "{} payload bytes in a page of {}", h.used, kPagePayload);
    }
    return h;
}

Result<PageRun> read_page_run(std::span<const uint8_t> area, uint64_t first, uint64_t limit, uint32_t magic,
                              const Uuid& pool) {
    const uint64_t pages = area.size() / kPageSize;
    if (first >= pages || limit == 0) {
        return errorf(EUCLEAN, "page {} is beyond the metadata read ({} pages)", first, pages);
    }
    limit = std::min(limit, pages - first);
    auto at = [&](uint64_t p) { return area.subspan(p * kPageSize, kPageSize); };
    auto h0 = check_page(at(first), magic, pool);
    if (!h0) {
        return errorf(EUCLEAN, "page {} (byte offset {}): {}", first, first * kPageSize, h0.error().message);
    }
    if (h0->index != 0) {
        return errorf(EUCLEAN, "page {} (byte offset {}) is page {} of a run, not its first page", first,
                      first * kPageSize, h0->index);
    }
    if (h0->count > limit) {
        return errorf(EUCLEAN, "page {} (byte offset {}) starts a run of {} pages, more than the {} that fit",
                      first, first * kPageSize, h0->count, limit);
    }
    PageRun run;
    run.seq = h0->seq;
    run.count = h0->count;
    run.stream.reserve(uint64_t{h0->count} * kPagePayload);
    for (uint64_t i = 0; i < h0->count; ++i) {
        const uint64_t p = first + i;
        auto h = i == 0 ? h0 : check_page(at(p), magic, pool);
        if (!h) {
            return errorf(EUCLEAN, "page {} (byte offset {}), page {} of a run of {} with sequence {}: {}", p,
                          p * kPageSize, i, h0->count, h0->seq, h.error().message);
        }
        if (h->seq != h0->seq || h->index != i || h->count != h0->count) {
            return errorf(EUCLEAN,
                          "page {} (byte offset {}) is page {}/{} of sequence {}, expected page {}/{} of "
                          "sequence {}",
                          p, p * kPageSize, h->index, h->count, h->seq, i, h0->count, h0->seq);
        }
        auto payload = at(p).subspan(kPageHeaderSize, h->used);
        run.stream.insert(run.stream.end(), payload.begin(), payload.end());
    }
    return run;
}

}  // namespace ms::lvs
