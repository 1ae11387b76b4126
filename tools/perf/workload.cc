#include "perf/workload.h"

#include <charconv>

namespace ms::perf {

Result<Pattern> parse_pattern(std::string_view name) {
    if (name == "randread") {
        return Pattern::RandRead;
    }
    if (name == "randwrite") {
        return Pattern::RandWrite;
    }
    if (name == "read") {
        return Pattern::Read;
    }
    if (name == "write") {
        return Pattern::Write;
    }
    if (name == "rw") {
        return Pattern::ReadWrite;
    }
    return errorf(EINVAL, "unknown workload '{}' (expected randread, randwrite, read, write or rw)", name);
}

std::string_view to_string(Pattern p) {
    switch (p) {
        case Pattern::RandRead:
            return "randread";
        case Pattern::RandWrite:
            return "randwrite";
        case Pattern::Read:
            return "read";
        case Pattern::Write:
            return "write";
        case Pattern::ReadWrite:
            return "rw";
    }
    return "unknown";
}

bool is_random(Pattern p) {
    return p == Pattern::RandRead || p == Pattern::RandWrite;
}

bool writes(Pattern p) {
    return p != Pattern::RandRead && p != Pattern::Read;
}

Result<uint64_t> parse_size(std::string_view text) {
    std::string_view digits = text;
    unsigned shift = 0;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'k':
            case 'K':
                shift = 10;
                break;
            case 'm':
            case 'M':
                shift = 20;
                break;
            case 'g':
            case 'G':
                shift = 30;
                break;
            default:
                break;
        }
        if (shift != 0) {
            digits.remove_suffix(1);
        }
    }
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) {
        return errorf(
            EINVAL, "bad size '{}' (expected bytes, optionally with a k, m or g suffix: 4096, 4k, 1m)", text);
    }
    if (v == 0) {
        return errorf(EINVAL, "size '{}' is zero", text);
    }
    if (v > (UINT64_MAX >> shift)) {
        return errorf(EINVAL, "size '{}' is too large", text);
    }
    return v << shift;
}

Status validate(const WorkloadSpec& spec) {
    if (spec.queue_depth == 0 || spec.queue_depth > kMaxQueueDepth) {
        return errorf(EINVAL, "queue depth {} is out of range (1..{})", spec.queue_depth, kMaxQueueDepth);
    }
    if (spec.read_percent > 100) {
        return errorf(EINVAL, "read percentage {} is over 100", spec.read_percent);
    }
    if (spec.duration <= std::chrono::nanoseconds::zero()) {
        return make_error(EINVAL, "the run time must be positive");
    }
    if (spec.io_size == 0) {
        return make_error(EINVAL, "the I/O size must not be zero");
    }
    return ok();
}

Status validate_for_device(const WorkloadSpec& spec, std::string_view device, uint32_t block_size,
                           uint64_t size_bytes) {
    if (spec.io_size % block_size != 0) {
        return errorf(EINVAL, "I/O size {} is not a multiple of the {}-byte blocks of '{}'", spec.io_size,
                      block_size, device);
    }
    if (spec.io_size > size_bytes) {
        return errorf(EINVAL, "I/O size {} is larger than '{}' ({} bytes)", spec.io_size, device, size_bytes);
    }
    return ok();
}

}  // namespace ms::perf
