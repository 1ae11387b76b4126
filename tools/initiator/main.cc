// initiator: the test tool of Mayastor's kind. Creates the device a URI names (nvmf:// through
// our NVMe/TCP host, or any other scheme of the device factory), does one thing with it and
// destroys it again:
//   initiator [--offset BYTES] URI connect            connect, print the device's geometry
//   initiator [--offset BYTES] URI read FILE          one block at --offset into FILE
//   initiator [--offset BYTES] URI write FILE         FILE (one block, zero padded) at --offset
//   initiator URI nvme-admin OPC                      admin command OPC without data (nvmf://)
//   initiator URI id-ctrlr FILE                       identify controller data (4096 bytes) to FILE
//   initiator URI create-snapshot                     vendor admin command 0xC0 with the time
// Exit status 0 on success, 1 with a message on stderr on any error.
#include <CLI/CLI.hpp>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include "bdev/all_devices.h"
#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/log.h"
#include "core/runtime.h"

namespace {

using namespace ms;

struct Args {
    std::string uri;
    uint64_t offset = 0;
    std::string command;
    std::string file;
    std::string opcode;
};

Status write_file(const std::string& path, std::span<const uint8_t> data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    f.close();
    if (!f) {
        return errorf(EIO, "cannot write '{}'", path);
    }
    return ok();
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        return errorf(ENOENT, "cannot open '{}'", path);
    }
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

Result<uint8_t> parse_opcode(const std::string& text) {
    try {
        std::size_t used = 0;
        unsigned long v = std::stoul(text, &used, 0);
        if (used == text.size() && v <= 0xff) {
            return static_cast<uint8_t>(v);
        }
    } catch (const std::exception&) {
    }
    return errorf(EINVAL, "'{}' is not an opcode (0-255, decimal or 0x hex)", text);
}

Task<Status> admin(BlockDevice& dev, nvme::Sqe sqe, nvmf_host::DataDir dir, std::span<uint8_t> data,
                   std::string what) {
    auto r = co_await nvmf_host::nvmf_admin_command(dev, sqe, dir, data);
    if (!r) {
        co_return std::unexpected(r.error());
    }
    nvme::Status st = nvme::Status::decode(r->status);
    if (!st.ok()) {
        co_return errorf(EIO, "{} failed: NVMe status SCT {:#x} SC {:#04x}", what,
                         static_cast<unsigned>(st.sct), st.sc);
    }
    fmt::print("{}: success (dw0 {:#x})\n", what, r->dw0);
    co_return ok();
}

Task<Status> act(const Args& a, BlockDevice& dev) {
    if (a.command == "connect") {
        fmt::print("connected to {}\n", dev.name());
        fmt::print("  product:    {}\n", dev.product());
        fmt::print("  uuid:       {}\n", dev.uuid().to_string());
        fmt::print("  block size: {}\n", dev.block_size());
        fmt::print("  blocks:     {}\n", dev.num_blocks());
        fmt::print("  size:       {} bytes\n", dev.geometry().size_bytes());
        co_return ok();
    }
    if (a.command == "read" || a.command == "write") {
        bool write = a.command == "write";
        auto d = Descriptor::open(dev.shared_from_this(), write ? OpenMode::ReadWrite : OpenMode::ReadOnly);
        if (!d) {
            co_return std::unexpected(d.error());
        }
        auto buf = (*d)->dma_malloc(dev.block_size());
        if (!buf) {
            co_return std::unexpected(buf.error());
        }
        if (write) {
            auto bytes = read_file(a.file);
            if (!bytes) {
                co_return std::unexpected(bytes.error());
            }
            std::size_t n = std::min(bytes->size(), buf->size());
            std::memcpy(buf->data(), bytes->data(), n);
            if (n < buf->size()) {
                log::warn("'{}' has {} bytes: the rest of the {}-byte block is zeroes", a.file, bytes->size(),
                          buf->size());
            }
            Status st = co_await (*d)->write_at(a.offset, *buf);
            if (!st) {
                co_return st;
            }
            fmt::print("{} bytes written at offset {}\n", buf->size(), a.offset);
            co_return ok();
        }
        Status st = co_await (*d)->read_at(a.offset, *buf);
        if (!st) {
            co_return st;
        }
        if (Status w = write_file(a.file, buf->span()); !w) {
            co_return w;
        }
        fmt::print("{} bytes read at offset {}\n", buf->size(), a.offset);
        co_return ok();
    }
    nvme::Sqe sqe{};
    std::span<uint8_t> none;
    if (a.command == "nvme-admin") {
        auto opc = parse_opcode(a.opcode);
        if (!opc) {
            co_return std::unexpected(opc.error());
        }
        sqe.opcode = *opc;
        co_return co_await admin(dev, sqe, nvmf_host::DataDir::None, none,
                                 fmt::format("admin command {:#04x}", *opc));
    }
    if (a.command == "id-ctrlr") {
        std::vector<uint8_t> id(nvme::kIdentifySize);
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::Identify);
        sqe.cdw10 = nvme::cns::kController;
        Status st = co_await admin(dev, sqe, nvmf_host::DataDir::ToHost, id, "identify controller");
        if (!st) {
            co_return st;
        }
        co_return write_file(a.file, id);
    }
    if (a.command == "create-snapshot") {
        auto now = static_cast<uint64_t>(std::time(nullptr));
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::VendorCreateSnapshot);
        sqe.cdw10 = static_cast<uint32_t>(now);
        sqe.cdw11 = static_cast<uint32_t>(now >> 32);
        co_return co_await admin(dev, sqe, nvmf_host::DataDir::None, none,
                                 fmt::format("create snapshot at {}", now));
    }
    co_return errorf(EINVAL, "unknown command '{}'", a.command);
}

Task<Status> run(Args a) {
    register_builtin_device_factories();
    register_all_device_factories();
    auto dev = co_await create_device(a.uri);
    if (!dev) {
        co_return std::unexpected(dev.error());
    }
    Status st = co_await act(a, **dev);
    dev->reset();
    Status destroyed = co_await destroy_device(a.uri);
    if (st && !destroyed) {
        co_return destroyed;
    }
    co_return st;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "initiator: connect to, read or write a block of, or send NVMe admin commands to the device a URI "
        "names"};
    app.name("initiator");
    Args a;
    app.add_option("URI", a.uri, "Device URI, e.g. nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:<uuid>")
        ->required();
    app.add_option("-o,--offset", a.offset,
                   "Offset of the read or write in bytes (a multiple of the block size)")
        ->type_name("BYTES")
        ->capture_default_str();
    std::string level = "warn";
    app.add_option("-l,--log-level", level, "Log level (trace, debug, info, warn, error)")
        ->capture_default_str();
    app.add_subcommand("connect", "Connect to the device, print its geometry, disconnect");
    auto* read = app.add_subcommand("read", "Read one block at --offset into FILE");
    read->add_option("FILE", a.file, "File to write the block to")->required();
    auto* write = app.add_subcommand("write", "Write one block from FILE (zero padded) at --offset");
    write->add_option("FILE", a.file, "File to take the block from")->required();
    auto* nvme_admin =
        app.add_subcommand("nvme-admin", "Send an NVMe admin command without data (nvmf:// only)");
    nvme_admin->add_option("OPC", a.opcode, "Opcode, decimal or 0x hex")->required();
    auto* id = app.add_subcommand("id-ctrlr",
                                  "Write the identify controller data (4096 bytes) to FILE (nvmf:// only)");
    id->add_option("FILE", a.file, "Output file")->required();
    app.add_subcommand("create-snapshot",
                       "Send the vendor admin command 0xC0 with the current time (nvmf:// only)");
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    a.command = app.get_subcommands().front()->get_name();
    ms::log::init(level);

    ms::Status st;
    {
        ms::Runtime rt(ms::RuntimeOptions{});
        st = ms::run_on(rt.reactor(0), [&a]() { return run(a); });
    }
    if (!st) {
        std::cerr << "initiator: " << st.error().to_string() << "\n";
        return 1;
    }
    return 0;
}
