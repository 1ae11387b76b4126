// NVM commands of the target's I/O queues: Read, Write (in-capsule or R2T + H2CData), Flush,
// Write Zeroes and Dataset Management (deallocate), with the namespace, range, transfer size
// and ANA checks. Runs on the queue's reactor; the namespace table is an immutable snapshot
// re-read only when the subsystem's version moves.
#include <cstring>

#include "core/log.h"
#include "target/nvmf/target_internal.h"

namespace ms::nvmf::detail {

using namespace ms::nvme;

const Namespace* Connection::find_ns(uint32_t nsid) {
    uint64_t v = _sub->ns_version.load(std::memory_order_acquire);
    if (v != _ns_version || !_ns) {
        _ns = _sub->ns_snapshot();
        _ns_version = v;
    }
    for (const auto& ns : *_ns) {
        if (ns->nsid == nsid) {
            return ns.get();
        }
    }
    return nullptr;
}

namespace {

Response from_io_status(const ms::Status& st) {
    if (st) {
        return Response{};
    }
    if (st.error().code == ERANGE) {
        return generic(sc::kLbaOutOfRange);
    }
    return status_only(Sct::Generic, sc::kInternalError, false);
}

}  // namespace

Task<Response> Connection::exec_io(Command* c) {
    const Sqe& sqe = c->sqe;
    auto opc = static_cast<NvmOpc>(sqe.opcode);
    if (opc != NvmOpc::Flush && opc != NvmOpc::Write && opc != NvmOpc::Read && opc != NvmOpc::WriteZeroes &&
        opc != NvmOpc::DatasetManagement) {
        co_return generic(sc::kInvalidOpcode);
    }
    const Namespace* nsp = find_ns(sqe.nsid);
    if (nsp == nullptr) {
        co_return generic(sc::kInvalidNamespaceOrFormat);
    }
    auto ana = static_cast<AnaState>(_sub->ana_state.load(std::memory_order_relaxed));
    if (ana == AnaState::Inaccessible) {
        co_return status_only(Sct::Path, psc::kAsymmetricAccessInaccessible, false);
    }
    if (ana == AnaState::PersistentLoss) {
        co_return status_only(Sct::Path, psc::kAsymmetricAccessPersistentLoss, false);
    }
    if (ana == AnaState::Change) {
        co_return status_only(Sct::Path, psc::kAsymmetricAccessTransition, false);
    }
    // Keep the namespace alive while the command runs, even if it is removed meanwhile.
    std::shared_ptr<const NamespaceTable> hold = _ns;
    const Namespace& ns = *nsp;
    switch (opc) {
        case NvmOpc::Read:
            co_return co_await io_read_write(c, ns, false);
        case NvmOpc::Write:
            co_return co_await io_read_write(c, ns, true);
        case NvmOpc::Flush: {
            ms::Status st = co_await ns.desc->flush();
            co_return from_io_status(st);
        }
        case NvmOpc::WriteZeroes: {
            uint64_t slba = sqe.cdw10 | (uint64_t{sqe.cdw11} << 32);
            uint64_t nlb = (sqe.cdw12 & 0xffff) + 1;
            if (slba >= ns.num_blocks || nlb > ns.num_blocks - slba) {
                co_return generic(sc::kLbaOutOfRange);
            }
            ms::Status st = co_await ns.desc->write_zeroes(slba << ns.block_shift, nlb << ns.block_shift);
            co_return from_io_status(st);
        }
        case NvmOpc::DatasetManagement:
            co_return co_await io_dsm(c, ns);
        default:
            co_return generic(sc::kInvalidOpcode);
    }
}

Task<Response> Connection::io_read_write(Command* c, const Namespace& ns, bool write) {
    const Sqe& sqe = c->sqe;
    uint64_t slba = sqe.cdw10 | (uint64_t{sqe.cdw11} << 32);
    uint64_t nlb = (sqe.cdw12 & 0xffff) + 1;
    uint64_t len = nlb << ns.block_shift;
    if (len > _core.options.max_io_size) {
        co_return generic(sc::kInvalidField);
    }
    if (slba >= ns.num_blocks || nlb > ns.num_blocks - slba) {
        co_return generic(sc::kLbaOutOfRange);
    }
    auto len32 = static_cast<uint32_t>(len);
    if (sqe.dptr.length < len32) {
        co_return generic(sc::kDataSglLengthInvalid);
    }
    if (write) {
        if (auto failed = co_await receive_host_data(c, len32)) {
            co_return *failed;
        }
        iovec iov{c->buf.data(), len32};
        ms::Status st = co_await ns.desc->writev(slba << ns.block_shift, std::span<const iovec>(&iov, 1));
        co_return from_io_status(st);
    }
    if (sqe.dptr.type != kSglTransportDataBlock) {
        co_return generic(sc::kSglDescriptorTypeInvalid);
    }
    if (!ensure_buf(c, len32)) {
        co_return generic(sc::kInternalError);
    }
    iovec iov{c->buf.data(), len32};
    ms::Status st = co_await ns.desc->readv(slba << ns.block_shift, std::span<const iovec>(&iov, 1));
    Response r = from_io_status(st);
    if (st) {
        r.data_len = len32;
    }
    co_return r;
}

// The command's `len` bytes of host-to-controller data (a write's blocks, DSM ranges) into
// c->buf: already there when they came in the capsule, else asked for with an R2T. Nothing when
// they are there, the status to answer with when not.
Task<std::optional<Response>> Connection::receive_host_data(Command* c, uint32_t len) {
    const Sqe& sqe = c->sqe;
    if (sqe.dptr.type == kSglDataBlockOffset) {
        if (c->incapsule < len || sqe.dptr.address != 0) {
            co_return generic(sc::kDataSglLengthInvalid);
        }
        co_return std::nullopt;
    }
    if (sqe.dptr.type != kSglTransportDataBlock || c->incapsule != 0) {
        co_return generic(sc::kSglDescriptorTypeInvalid);
    }
    if (!ensure_buf(c, len)) {
        co_return generic(sc::kInternalError);
    }
    if (!co_await receive_h2c(c, len)) {
        co_return generic(sc::kDataTransferError);
    }
    if (c->digest_error) {
        co_return status_only(Sct::Generic, sc::kTransientTransportError, false);
    }
    co_return std::nullopt;
}

Task<Response> Connection::io_dsm(Command* c, const Namespace& ns) {
    const Sqe& sqe = c->sqe;
    uint32_t nr = (sqe.cdw10 & 0xff) + 1;
    uint32_t len = nr * sizeof(DsmRange);
    if (!(sqe.cdw11 & (1u << 2))) {
        co_return Response{};  // only deallocate does something; the hints are ignored
    }
    if (sqe.dptr.length < len) {
        co_return generic(sc::kDataSglLengthInvalid);
    }
    if (auto failed = co_await receive_host_data(c, len)) {
        co_return *failed;
    }
    for (uint32_t i = 0; i < nr; ++i) {
        DsmRange r;
        std::memcpy(&r, c->buf.data() + i * sizeof r, sizeof r);
        if (r.slba >= ns.num_blocks || r.length > ns.num_blocks - r.slba) {
            co_return generic(sc::kLbaOutOfRange);
        }
    }
    for (uint32_t i = 0; i < nr; ++i) {
        DsmRange r;
        std::memcpy(&r, c->buf.data() + i * sizeof r, sizeof r);
        if (r.length == 0) {
            continue;
        }
        uint64_t offset = r.slba << ns.block_shift;
        uint64_t length = static_cast<uint64_t>(r.length) << ns.block_shift;
        ms::Status st = co_await ns.desc->unmap(offset, length);
        if (!st) {
            co_return from_io_status(st);
        }
    }
    co_return Response{};
}

}  // namespace ms::nvmf::detail
