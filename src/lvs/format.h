// The on-disk format of a pool (docs/lvs-format.md): geometry of the metadata area, the two
// superblock copies, and the framing of checksummed 4 KiB metadata pages that carry the
// checkpoint images and the log. Pure functions over bytes, no I/O: the loader and the fuzzer
// use them on untrusted input, so every decoder validates every field it returns.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/uuid.h"

namespace ms::lvs {

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kPageHeaderSize = 48;
inline constexpr uint32_t kPagePayload = kPageSize - kPageHeaderSize;
inline constexpr uint32_t kFormatVersion = 1;
// "MSLVSUPR", "MSLI" (image page), "MSLL" (log page), little-endian.
inline constexpr uint64_t kSuperMagic = 0x52505553564c534dull;
inline constexpr uint32_t kImageMagic = 0x494c534d;
inline constexpr uint32_t kLogMagic = 0x4c4c534d;

inline constexpr uint64_t kMinClusterSize = 1ull << 20;
inline constexpr uint64_t kMaxClusterSize = 1ull << 30;
// Cluster numbers (physical and logical) are 32-bit; this value means "none".
inline constexpr uint32_t kNoCluster = 0xffffffffu;
inline constexpr uint32_t kMaxClusters = kNoCluster - 1;
inline constexpr uint32_t kMaxLvolsLimit = 1u << 20;

// Bytes an lvol takes at most in an image or a create record, name included (the extents
// come on top, kExtentBytes each), and the image's fixed header.
inline constexpr uint32_t kLvolFixedBytes = 56;
inline constexpr uint32_t kMaxLvolBytes = kLvolFixedBytes + 255;
inline constexpr uint32_t kExtentBytes = 12;
inline constexpr uint32_t kImageHeaderBytes = 24;
inline constexpr uint32_t kRecordHeaderBytes = 8;

// Where things are in the metadata area, in 4 KiB pages from the start of the device:
// page 0 superblock A, page 1 superblock B, then image area 0, image area 1 (image_pages
// each), then the log (log_pages). Data cluster i starts at (metadata_clusters + i) clusters.
struct Layout {
    uint32_t block_size = 0;
    uint64_t cluster_size = 0;
    uint32_t metadata_clusters = 0;
    uint32_t data_clusters = 0;
    uint32_t max_lvols = 0;
    uint32_t image_pages = 0;
    uint32_t log_pages = 0;

    uint64_t image_page(unsigned area) const { return 2 + uint64_t{area} * image_pages; }
    uint64_t log_page() const { return 2 + 2 * uint64_t{image_pages}; }
    uint64_t metadata_pages() const { return log_page() + log_pages; }
    uint64_t data_offset() const { return uint64_t{metadata_clusters} * cluster_size; }
    uint64_t total_bytes() const { return (uint64_t{metadata_clusters} + data_clusters) * cluster_size; }
};

// Pages of the largest image a layout must hold, and of the largest single log record.
uint64_t image_pages_needed(uint64_t max_lvols, uint64_t clusters);
uint64_t record_pages_needed(uint64_t clusters);
uint64_t pages_for(uint64_t stream_bytes);

struct LayoutRequest {
    uint64_t device_bytes = 0;
    uint32_t block_size = 512;
    uint64_t cluster_size = 0;
    uint32_t max_lvols = 0;  // 0: clamp(clusters, 1024, 65536)
    uint32_t log_pages = 0;  // 0: at least 256 pages, then the rest of the metadata clusters
};
// EINVAL for a bad cluster or block size, ENOSPC for a device too small for one data cluster.
Result<Layout> compute_layout(const LayoutRequest& req);
// Checks a layout read from disk (sizes, bounds, room for the largest image and record).
Status check_layout(const Layout& l);

struct Superblock {
    Uuid uuid;
    std::string name;
    uint64_t created = 0;
    uint64_t device_bytes = 0;  // size of the device when the pool was made (information)
    Layout layout;
};

// The 4096-byte page of superblock copy `slot` (0 = A at page 0, 1 = B at page 1).
void encode_superblock(const Superblock& sb, uint32_t slot, std::span<uint8_t> page);
// ENOMEDIUM: no superblock magic at all (not a pool). EUCLEAN: a damaged or inconsistent
// superblock, the message says what. ENOTSUP: a newer format version.
Result<Superblock> decode_superblock(std::span<const uint8_t> page, uint32_t slot);

// ---- metadata pages ------------------------------------------------------------------------

struct PageHeader {
    uint32_t magic = 0;
    Uuid pool;
    uint64_t seq = 0;
    uint32_t index = 0;
    uint32_t count = 0;
    uint32_t used = 0;
};

// Frames `stream` as pages_for(stream.size()) pages into `out` (exactly that many pages).
void frame_stream(std::span<const uint8_t> stream, uint32_t magic, const Uuid& pool, uint64_t seq,
                  std::span<uint8_t> out);
// Checks one page: magic, checksum, pool, index < count, used <= payload. The message says
// what is wrong (the caller adds where).
Result<PageHeader> check_page(std::span<const uint8_t> page, uint32_t magic, const Uuid& pool);

// A run of pages written together (an image, a log batch), starting at page `first` of
// `area` (a page-indexed span). Reads at most `limit` pages.
struct PageRun {
    uint64_t seq = 0;
    uint32_t count = 0;
    std::vector<uint8_t> stream;
};
Result<PageRun> read_page_run(std::span<const uint8_t> area, uint64_t first, uint64_t limit, uint32_t magic,
                              const Uuid& pool);

}  // namespace ms::lvs
