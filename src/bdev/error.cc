#include "bdev/error.h"

#include "bdev/device_registry.h"

namespace ms {

Result<uint32_t> parse_io_types(std::string_view list) {
    if (list.ends_with(',')) {
        return errorf(EINVAL, "empty I/O type at the end of '{}'", list);
    }
    uint32_t bits = 0;
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view word = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (word == "all") {
            bits |= (1u << kIoTypeCount) - 1;
            continue;
        }
        bool found = false;
        for (unsigned t = 0; t < kIoTypeCount; ++t) {
            if (to_string(static_cast<IoType>(t)) == word) {
                bits |= 1u << t;
                found = true;
            }
        }
        if (!found) {
            return errorf(
                EINVAL, "unknown I/O type '{}' (read, write, flush, unmap, write_zeroes, reset, all)", word);
        }
    }
    if (bits == 0) {
        return make_error(EINVAL, "no I/O type given");
    }
    return bits;
}

ErrorDevice::ErrorDevice(std::string name, std::unique_ptr<Descriptor> base, Uuid uuid)
    : BlockDevice(std::move(name), "Error injection disk", base->device().geometry(), uuid),
      _base(std::move(base)) {}

bool ErrorDevice::io_type_supported(IoType t) const {
    return _base->device().io_type_supported(t);
}

std::optional<int> ErrorDevice::match(const IoRequest& req) {
    std::lock_guard g(_mutex);
    for (auto it = _rules.begin(); it != _rules.end(); ++it) {
        if ((it->types & io_type_bit(req.type)) == 0) {
            continue;
        }
        bool ranged = req.type != IoType::Flush && req.type != IoType::Reset;
        uint64_t rule_end =
            it->num_blocks > UINT64_MAX - it->offset_blocks ? UINT64_MAX : it->offset_blocks + it->num_blocks;
        if (ranged &&
            (req.offset_blocks + req.num_blocks <= it->offset_blocks || req.offset_blocks >= rule_end)) {
            continue;
        }
        int err = it->error;
        ++_failures;
        if (it->count != std::numeric_limits<uint64_t>::max() && --it->count == 0) {
            _rules.erase(it);
        }
        return err;
    }
    return std::nullopt;
}

Task<Status> ErrorDevice::submit(IoChannel&, IoRequest req) {
    if (auto err = match(req)) {
        co_return errorf(*err, "injected {} error on '{}' at block {}", to_string(req.type), name(),
                         req.offset_blocks);
    }
    co_return co_await _base->submit(req);
}

Task<void> ErrorDevice::shutdown() {
    std::string owner = "error:" + name();
    auto base = _base->device_ptr();
    _base.reset();
    base->release_claim(owner);
    co_return;
}

void ErrorDevice::inject(const ErrorInjection& rule) {
    if (rule.count == 0) {
        return;  // fails nothing; stored, its count would wrap and fail every match forever
    }
    std::lock_guard g(_mutex);
    _rules.push_back(rule);
}

void ErrorDevice::clear() {
    std::lock_guard g(_mutex);
    _rules.clear();
}

uint64_t ErrorDevice::injected_failures() const {
    std::lock_guard g(_mutex);
    return _failures;
}

namespace {

Result<std::optional<ErrorInjection>> take_injection(QueryParams& params) {
    auto fail = params.take("fail");
    auto offset = params.take_u64("offset_blocks");
    auto num = params.take_u64("num_blocks");
    auto count = params.take_u64("count");
    auto err = params.take_u64("errno");
    for (auto* r : {&offset, &num, &count, &err}) {
        if (!*r) {
            return std::unexpected(r->error());
        }
    }
    if (!fail) {
        if (offset->has_value() || num->has_value() || count->has_value() || err->has_value()) {
            return make_error(EINVAL, "offset_blocks, num_blocks, count and errno need fail=");
        }
        return std::optional<ErrorInjection>{};
    }
    ErrorInjection rule;
    auto types = parse_io_types(*fail);
    if (!types) {
        return std::unexpected(types.error());
    }
    rule.types = *types;
    rule.offset_blocks = offset->value_or(0);
    rule.num_blocks = num->value_or(std::numeric_limits<uint64_t>::max());
    rule.count = count->value_or(std::numeric_limits<uint64_t>::max());
    uint64_t e = err->value_or(EIO);
    if (e == 0 || e > 4095) {
        return errorf(EINVAL, "errno={} is not an error number", e);
    }
    rule.error = static_cast<int>(e);
    if (rule.num_blocks == 0 || rule.count == 0) {
        return make_error(EINVAL, "num_blocks and count must be positive");
    }
    return std::optional<ErrorInjection>{rule};
}

}  // namespace

DeviceFactory error_device_factory() {
    DeviceFactory f;
    f.name_of = &device_name_of_path;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto name = name_from_path(uri);
        if (!name) {
            co_return std::unexpected(name.error());
        }
        QueryParams params(uri);
        auto base_name = params.take("base");
        auto rule = take_injection(params);
        if (!rule) {
            co_return std::unexpected(rule.error());
        }
        auto uuid = take_uuid_param(params);
        if (!uuid) {
            co_return std::unexpected(uuid.error());
        }
        if (Status s = params.finish(); !s) {
            co_return std::unexpected(s.error());
        }
        if (!base_name || base_name->empty()) {
            co_return errorf(EINVAL, "'{}' needs base=<device name>", uri.to_string());
        }
        auto base = DeviceRegistry::instance().lookup(*base_name);
        if (!base) {
            co_return errorf(ENODEV, "no base device named '{}' for '{}'", *base_name, uri.to_string());
        }
        std::string owner = "error:" + *name;
        if (Status s = base->claim(owner); !s) {
            co_return std::unexpected(s.error());
        }
        auto desc = Descriptor::open(base, OpenMode::ReadWrite, owner);
        if (!desc) {
            base->release_claim(owner);
            co_return std::unexpected(desc.error());
        }
        auto dev = std::make_shared<ErrorDevice>(*name, std::move(*desc), *uuid);
        if (*rule) {
            dev->inject(**rule);
        }
        co_return dev;
    };
    return f;
}

}  // namespace ms
