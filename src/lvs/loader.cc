#include "lvs/loader.h"

#include "lvs/bytes.h"

namespace ms::lvs {
namespace {

const char* slot_name(unsigned slot) {
    return slot == 0 ? "A" : "B";
}

bool same_superblock(const Superblock& a, const Superblock& b) {
    const Layout &x = a.layout, &y = b.layout;
    return a.uuid == b.uuid && a.name == b.name && a.created == b.created &&
           a.device_bytes == b.device_bytes && x.block_size == y.block_size &&
           x.cluster_size == y.cluster_size && x.metadata_clusters == y.metadata_clusters &&
           x.data_clusters == y.data_clusters && x.max_lvols == y.max_lvols &&
           x.image_pages == y.image_pages && x.log_pages == y.log_pages;
}

struct ImageCandidate {
    std::unique_ptr<PoolState> state;
    uint64_t seq = 0;
    std::string error;  // empty if valid
};

ImageCandidate load_image(const Superblock& sb, std::span<const uint8_t> area, unsigned i) {
    ImageCandidate c;
    const Layout& l = sb.layout;
    auto run = read_page_run(area, l.image_page(i), l.image_pages, kImageMagic, sb.uuid);
    if (!run) {
        c.error = run.error().message;
        return c;
    }
    uint64_t seq = 0;
    auto state = PoolState::decode_image(l, run->stream, &seq);
    if (!state) {
        c.error = fmt::format("image of sequence {} at page {}: {}", run->seq, l.image_page(i),
                              state.error().message);
        return c;
    }
    if (seq != run->seq) {
        c.error = fmt::format("image at page {} says sequence {} in its pages and {} inside", l.image_page(i),
                              run->seq, seq);
        return c;
    }
    c.state = std::move(*state);
    c.seq = seq;
    return c;
}

}  // namespace

Result<SuperblockProbe> probe_superblocks(std::span<const uint8_t> first_pages) {
    if (first_pages.size() < 2 * kPageSize) {
        return errorf(EUCLEAN, "superblock pages truncated ({} bytes)", first_pages.size());
    }
    Result<Superblock> copies[2] = {decode_superblock(first_pages.first(kPageSize), 0),
                                    decode_superblock(first_pages.subspan(kPageSize, kPageSize), 1)};
    auto where = [&](unsigned s) {
        return fmt::format("superblock {} (page {}, byte offset {})", slot_name(s), s, s * kPageSize);
    };
    if (!copies[0] && !copies[1]) {
        int a = copies[0].error().code, b = copies[1].error().code;
        if (a == ENOMEDIUM && b == ENOMEDIUM) {
            return make_error(ENOMEDIUM, "no pool label on the device");
        }
        int code = (a == ENOTSUP || b == ENOTSUP) ? ENOTSUP : EUCLEAN;
        return errorf(code, "no valid pool superblock: {}: {}; {}: {}", where(0), copies[0].error().message,
                      where(1), copies[1].error().message);
    }
    SuperblockProbe p;
    for (unsigned s = 0; s < 2; ++s) {
        p.valid[s] = copies[s].has_value();
        if (!p.valid[s]) {
            p.warnings.push_back(fmt::format("{} is not valid ({}); using the other copy", where(s),
                                             copies[s].error().message));
        }
    }
    if (p.valid[0] && p.valid[1] && !same_superblock(*copies[0], *copies[1])) {
        return errorf(EUCLEAN, "{} and {} are both valid but disagree (pools '{}' {} and '{}' {})", where(0),
                      where(1), copies[0]->name, copies[0]->uuid.to_string(), copies[1]->name,
                      copies[1]->uuid.to_string());
    }
    p.sb = p.valid[0] ? *copies[0] : *copies[1];
    return p;
}

Status check_device(const Superblock& sb, uint32_t block_size, uint64_t device_bytes) {
    if (block_size != sb.layout.block_size) {
        return errorf(EINVAL, "pool '{}' was made with {}-byte blocks; the device now has {}-byte blocks",
                      sb.name, sb.layout.block_size, block_size);
    }
    if (device_bytes < sb.layout.total_bytes()) {
        return errorf(EUCLEAN, "pool '{}' needs {} bytes but the device has only {}", sb.name,
                      sb.layout.total_bytes(), device_bytes);
    }
    return ok();
}

Result<LoadedPool> load_pool(const SuperblockProbe& probe, std::span<const uint8_t> area) {
    const Superblock& sb = probe.sb;
    const Layout& l = sb.layout;
    if (area.size() / kPageSize < l.metadata_pages()) {
        return errorf(EUCLEAN, "metadata area truncated: {} bytes read, the layout has {} pages", area.size(),
                      l.metadata_pages());
    }
    ImageCandidate images[2] = {load_image(sb, area, 0), load_image(sb, area, 1)};
    int best = -1;
    for (int i = 0; i < 2; ++i) {
        if (images[i].state && (best < 0 || images[i].seq > images[best].seq)) {
            best = i;
        }
    }
    auto image_errors = [&] {
        std::string s;
        for (unsigned i = 0; i < 2; ++i) {
            s += fmt::format(
                "{}image area {} (pages {}..{}): {}", i == 0 ? "" : "; ", i, l.image_page(i),
                l.image_page(i) + l.image_pages - 1,
                images[i].error.empty() ? fmt::format("valid, sequence {}", images[i].seq) : images[i].error);
        }
        return s;
    };
    if (best < 0) {
        return errorf(EUCLEAN, "pool '{}': no valid checkpoint image: {}", sb.name, image_errors());
    }

    LoadedPool out;
    out.sb = sb;
    out.sb_valid[0] = probe.valid[0];
    out.sb_valid[1] = probe.valid[1];
    out.warnings = probe.warnings;
    out.image_area = static_cast<unsigned>(best);
    out.image_seq = images[best].seq;
    out.state = std::move(images[best].state);
    const unsigned other = 1 - out.image_area;
    if (!images[other].error.empty() && out.image_seq != 0) {
        out.warnings.push_back(
            fmt::format("image area {} is not valid ({}); it is not in use", other, images[other].error));
    }

    // Replay: batches of consecutive sequence numbers from the start of the log.
    PoolState& state = *out.state;
    const uint64_t log0 = l.log_page();
    uint64_t expected = out.image_seq + 1;
    uint64_t page = 0;
    std::string stop;
    while (page < l.log_pages) {
        auto run = read_page_run(area, log0 + page, l.log_pages - page, kLogMagic, sb.uuid);
        if (!run) {
            stop = run.error().message;
            break;
        }
        if (run->seq != expected) {
            stop = fmt::format("page {} holds sequence {}, not {}", log0 + page, run->seq, expected);
            break;
        }
        ByteReader r(run->stream);
        for (unsigned i = 0; !r.at_end(); ++i) {
            std::size_t at = r.position();
            auto rec = decode_record(r);
            if (!rec) {
                return errorf(
                    EUCLEAN, "pool '{}': log batch {} at page {} (byte offset {}), record {} at byte {}: {}",
                    sb.name, run->seq, log0 + page, (log0 + page) * kPageSize, i, at, rec.error().message);
            }
            if (Status s = state.validate(*rec); !s) {
                return errorf(
                    EUCLEAN,
                    "pool '{}': log batch {} at page {} (byte offset {}), record {} ({} of lvol {}) "
                    "does not apply: {}",
                    sb.name, run->seq, log0 + page, (log0 + page) * kPageSize, i, to_string(rec->type),
                    rec->id, s.error().message);
            }
            state.apply(*rec);
        }
        page += run->count;
        ++expected;
        ++out.batches;
    }
    // Only the batch being written when the pool stopped can be incomplete. A valid page of a
    // later batch beyond the end means a batch that was complete has been damaged since.
    for (uint64_t p = page; p < l.log_pages; ++p) {
        auto h = check_page(area.subspan((log0 + p) * kPageSize, kPageSize), kLogMagic, sb.uuid);
        if (h && (h->seq > expected || (h->seq == expected && p != page + h->index))) {
            return errorf(EUCLEAN,
                          "pool '{}': the log is damaged at page {} (byte offset {}): {}; but page {} holds "
                          "batch {} written after it (checkpoint images: {})",
                          sb.name, log0 + page, (log0 + page) * kPageSize, stop, log0 + p, h->seq,
                          image_errors());
        }
    }
    out.next_seq = expected;
    out.log_tail = page;
    return out;
}

Result<LoadedPool> load_metadata(std::span<const uint8_t> area) {
    auto probe = probe_superblocks(area);
    if (!probe) {
        return std::unexpected(probe.error());
    }
    return load_pool(*probe, area);
}

}  // namespace ms::lvs
