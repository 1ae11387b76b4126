// A test-only NVMe/TCP host speaking raw PDUs (built with the codec's encoders) over a real
// socket to the real target: the IC exchange, capsules with in-capsule data, R2T answered with
// H2CData, C2HData collected, plus ways to send arbitrary (malformed) bytes. Runs on a reactor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/net.h"
#include "core/status.h"
#include "core/task.h"
#include "nvme/pdu.h"
#include "nvme/spec.h"

namespace ms::nvmf::test {

inline constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:test-host";

struct RxPdu {
    std::vector<uint8_t> header;  // the whole header (with digest)
    nvme::tcp::Pdu pdu;           // spans point into `header`
    std::vector<uint8_t> data;
    bool data_digest_ok = true;
};

struct Completion {
    nvme::Cqe cqe{};
    nvme::Status status() const { return nvme::Status::decode(cqe.status); }
};

class RawHost {
   public:
    // Connects and does the IC exchange.
    static Task<Result<std::unique_ptr<RawHost>>> connect(uint16_t port, bool hdgst = false,
                                                          bool ddgst = false);
    // Connects without the IC exchange.
    static Task<Result<std::unique_ptr<RawHost>>> connect_raw(uint16_t port);

    Task<Status> send_raw(std::vector<uint8_t> bytes);
    Task<Result<RxPdu>> recv_pdu();
    // True if the peer has closed the connection (reads until EOF, discarding).
    Task<bool> wait_closed();

    // Sends a capsule (with in-capsule data if given); answers R2Ts from `h2c`; collects
    // C2HData into `in`; returns the completion (synthesised for a C2HData with SUCCESS).
    Task<Result<Completion>> command(nvme::Sqe sqe, std::vector<uint8_t> incapsule = {},
                                     std::vector<uint8_t> h2c = {}, std::vector<uint8_t>* in = nullptr);

    // Fabrics.
    Task<Result<Completion>> connect_queue(uint16_t qid, std::string subnqn, uint16_t cntlid,
                                           uint32_t kato_ms = 0, uint16_t sqsize = 31,
                                           std::string hostnqn = kHostNqn);
    Task<Result<Completion>> property_get(uint32_t offset, bool eight);
    Task<Result<Completion>> property_set(uint32_t offset, uint32_t value);
    // Admin.
    Task<Result<Completion>> identify(uint8_t cns, uint32_t nsid, std::vector<uint8_t>* out);
    Task<Result<Completion>> get_log_page(uint8_t lid, uint32_t len, uint64_t offset,
                                          std::vector<uint8_t>* out, uint32_t lsp_bits = 0);
    // NVM.
    Task<Result<Completion>> write(uint32_t nsid, uint64_t slba, std::vector<uint8_t> data, bool incapsule);
    Task<Result<Completion>> read(uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t block_size,
                                  std::vector<uint8_t>* out);

    // Completions that arrived for other command IDs (AERs).
    std::vector<Completion> stray;
    const nvme::tcp::ConnectionParams& params() const { return _params; }
    uint32_t maxh2cdata() const { return _maxh2cdata; }
    uint16_t next_cid() { return _cid++; }

   private:
    Task<Status> recv_exact(std::span<uint8_t> buf);
    Socket _sock;
    nvme::tcp::ConnectionParams _params;
    uint32_t _maxh2cdata = 0;
    uint16_t _cid = 1;
};

nvme::Sqe make_sqe(uint8_t opcode, uint32_t nsid = 0);

}  // namespace ms::nvmf::test
