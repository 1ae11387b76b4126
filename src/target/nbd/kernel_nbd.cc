// The kernel's NBD driver over generic netlink, written against <linux/genetlink.h> and
// <linux/nbd-netlink.h> directly (a few dozen lines of message framing; no libnl dependency).
//
// The exchange is one request and its answers on a private NETLINK_GENERIC socket: the family
// id of "nbd" from the controller (CTRL_CMD_GETFAMILY), then NBD_CMD_CONNECT (the driver picks
// the first free device and answers with its index before the ACK) or NBD_CMD_DISCONNECT. The
// driver resolves the socket fds in the sender's fd table, so attach runs in the process that
// holds them.
#include "target/nbd/kernel_nbd.h"

#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace ms::nbd {

namespace {

// How long one request may wait for the kernel's answer. CONNECT returns as soon as the receive
// workers run; DISCONNECT waits for them to stop, which the socket shutdown makes prompt.
constexpr int kReplyTimeoutS = 60;

class UniqueFd {
   public:
    explicit UniqueFd(int fd) : _fd(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
    UniqueFd& operator=(UniqueFd&&) = delete;
    UniqueFd(const UniqueFd&) = delete;
    ~UniqueFd() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    int get() const { return _fd; }

   private:
    int _fd;
};

size_t nl_align(size_t n) {
    return (n + NLA_ALIGNTO - 1) & ~static_cast<size_t>(NLA_ALIGNTO - 1);
}

// One request under construction: nlmsghdr, genlmsghdr, then attributes, each padded to 4 bytes.
class GenlRequest {
   public:
    GenlRequest(uint16_t family, uint8_t cmd, uint8_t version) {
        _buf.resize(NLMSG_HDRLEN + GENL_HDRLEN);
        nlmsghdr hdr{};
        hdr.nlmsg_type = family;
        hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        std::memcpy(_buf.data(), &hdr, sizeof(hdr));
        genlmsghdr genl{};
        genl.cmd = cmd;
        genl.version = version;
        std::memcpy(_buf.data() + NLMSG_HDRLEN, &genl, sizeof(genl));
    }

    void put_u32(uint16_t type, uint32_t v) { put(type, &v, sizeof(v)); }
    void put_u64(uint16_t type, uint64_t v) { put(type, &v, sizeof(v)); }
    void put_string(uint16_t type, const char* s) { put(type, s, std::strlen(s) + 1); }

    // A nested attribute: begin_nested returns its offset, end_nested sets its length once its
    // members are in.
    size_t begin_nested(uint16_t type) {
        size_t at = _buf.size();
        put(type | NLA_F_NESTED, nullptr, 0);
        return at;
    }
    void end_nested(size_t at) {
        auto len = static_cast<uint16_t>(_buf.size() - at);
        std::memcpy(_buf.data() + at + offsetof(nlattr, nla_len), &len, sizeof(len));
    }

    std::span<const uint8_t> finish(uint32_t seq) {
        auto* hdr = reinterpret_cast<nlmsghdr*>(_buf.data());
        hdr->nlmsg_len = static_cast<uint32_t>(_buf.size());
        hdr->nlmsg_seq = seq;
        return _buf;
    }

   private:
    void put(uint16_t type, const void* data, size_t len) {
        size_t at = _buf.size();
        _buf.resize(at + nl_align(NLA_HDRLEN + len), 0);
        nlattr attr{};
        attr.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
        attr.nla_type = type;
        std::memcpy(_buf.data() + at, &attr, sizeof(attr));
        if (len > 0) {
            std::memcpy(_buf.data() + at + NLA_HDRLEN, data, len);
        }
    }

    std::vector<uint8_t> _buf;
};

struct Attr {
    uint16_t type = 0;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    std::span<const uint8_t> payload;
};

// The attributes in `region`, in order; a truncated tail is ignored.
std::vector<Attr> parse_attrs(std::span<const uint8_t> region) {
    std::vector<Attr> out;
    size_t at = 0;
    while (at + NLA_HDRLEN <= region.size()) {
        nlattr attr;
        std::memcpy(&attr, region.data() + at, sizeof(attr));
        if (attr.nla_len < NLA_HDRLEN || at + attr.nla_len > region.size()) {
            break;
        }
        out.push_back(Attr{static_cast<uint16_t>(attr.nla_type & NLA_TYPE_MASK),
                           region.subspan(at + NLA_HDRLEN, attr.nla_len - NLA_HDRLEN)});
        at += nl_align(attr.nla_len);
    }
    return out;
}

template <typename T>
std::optional<T> attr_value(std::span<const Attr> attrs, uint16_t type) {
    for (const Attr& a : attrs) {
        if (a.type == type && a.payload.size() >= sizeof(T)) {
            T v;
            std::memcpy(&v, a.payload.data(), sizeof(T));
            return v;
        }
    }
    return std::nullopt;
}

// A NETLINK_GENERIC socket that sends one request at a time and collects its answers.
class GenlSocket {
   public:
    static Result<GenlSocket> open() {
        int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        if (fd < 0) {
            return errno_error(errno, "socket(AF_NETLINK, NETLINK_GENERIC)");
        }
        GenlSocket s{UniqueFd(fd)};
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0) {
            return errno_error(errno, "bind(AF_NETLINK)");
        }
        timeval tv{kReplyTimeoutS, 0};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        // Error answers carry the kernel's message (policy violations) and not our request back.
        int one = 1;
        (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
        return s;
    }

    // Sends `req` and returns the payload (attributes, after the genl header) of every answer
    // of type `family` up to the ACK; an error answer becomes its errno, with the kernel's
    // extended-ack message if it gave one.
    Result<std::vector<std::vector<uint8_t>>> transact(GenlRequest& req, uint16_t family) {
        uint32_t seq = ++_seq;
        std::span<const uint8_t> bytes = req.finish(seq);
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        ssize_t sent;
        do {
            sent = ::sendto(_fd.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                            sizeof(kernel));
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            return errno_error(errno, "netlink send");
        }
        std::vector<std::vector<uint8_t>> out;
        for (;;) {
            ssize_t n = ::recv(_fd.get(), _rx.data(), _rx.size(), 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return errorf(ETIMEDOUT, "no answer from the kernel within {} s", kReplyTimeoutS);
                }
                return errno_error(errno, "netlink receive");
            }
            size_t at = 0;
            auto len = static_cast<size_t>(n);
            while (at + NLMSG_HDRLEN <= len) {
                nlmsghdr hdr;
                std::memcpy(&hdr, _rx.data() + at, sizeof(hdr));
                if (hdr.nlmsg_len < NLMSG_HDRLEN || at + hdr.nlmsg_len > len) {
                    return errorf(EPROTO, "malformed netlink answer");
                }
                std::span<const uint8_t> body(_rx.data() + at + NLMSG_HDRLEN, hdr.nlmsg_len - NLMSG_HDRLEN);
                at += NLMSG_ALIGN(hdr.nlmsg_len);
                if (hdr.nlmsg_seq != seq) {
                    continue;  // not ours (nothing else is expected on a private socket)
                }
                if (hdr.nlmsg_type == NLMSG_ERROR) {
                    if (body.size() < sizeof(nlmsgerr)) {
                        return errorf(EPROTO, "short netlink error answer");
                    }
                    nlmsgerr err;
                    std::memcpy(&err, body.data(), sizeof(err));
                    if (err.error == 0) {
                        return out;  // the ACK: every answer has arrived
                    }
                    return kernel_error(-err.error, hdr, body);
                }
                if (hdr.nlmsg_type == NLMSG_DONE) {
                    return out;
                }
                if (hdr.nlmsg_type == family && body.size() >= GENL_HDRLEN) {
                    out.emplace_back(body.begin() + GENL_HDRLEN, body.end());
                }
            }
        }
    }

   private:
    explicit GenlSocket(UniqueFd fd) : _fd(std::move(fd)), _rx(64 * 1024) {}

    static std::unexpected<Error> kernel_error(int code, const nlmsghdr& hdr, std::span<const uint8_t> body) {
        // With NLM_F_CAPPED the request comes back as its header only; the extended-ack
        // attributes follow it.
        size_t tlv_at = sizeof(nlmsgerr);
        if ((hdr.nlmsg_flags & NLM_F_CAPPED) == 0 && body.size() >= sizeof(nlmsgerr)) {
            nlmsgerr err;
            std::memcpy(&err, body.data(), sizeof(err));
            tlv_at = NLMSG_ALIGN(sizeof(int) + err.msg.nlmsg_len);
        }
        std::string detail;
        if ((hdr.nlmsg_flags & NLM_F_ACK_TLVS) != 0 && tlv_at < body.size()) {
            for (const Attr& a : parse_attrs(body.subspan(tlv_at))) {
                if (a.type == NLMSGERR_ATTR_MSG && !a.payload.empty()) {
                    detail.assign(reinterpret_cast<const char*>(a.payload.data()),
                                  strnlen(reinterpret_cast<const char*>(a.payload.data()), a.payload.size()));
                }
            }
        }
        return make_error(code, detail.empty() ? std::string("refused by the kernel") : detail);
    }

    UniqueFd _fd;
    std::vector<uint8_t> _rx;
    uint32_t _seq = 0;
};

// The family id of "nbd"; ENODEV when the kernel has no such family (no driver loaded).
Result<uint16_t> resolve_family(GenlSocket& sock) {
    GenlRequest req(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
    req.put_string(CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME);
    auto answers = sock.transact(req, GENL_ID_CTRL);
    if (!answers) {
        if (answers.error().code == ENOENT) {
            return errorf(ENODEV, "no '{}' generic netlink family", NBD_GENL_FAMILY_NAME);
        }
        return errorf(answers.error().code, "looking up the '{}' netlink family: {}", NBD_GENL_FAMILY_NAME,
                      answers.error().message);
    }
    for (const auto& payload : *answers) {
        if (auto id = attr_value<uint16_t>(parse_attrs(payload), CTRL_ATTR_FAMILY_ID)) {
            return *id;
        }
    }
    return errorf(EPROTO, "the netlink controller answered without the '{}' family id", NBD_GENL_FAMILY_NAME);
}

// Runs `modprobe -q nbd` with no output and waits for it; returns what went wrong, or "".
std::string run_modprobe() {
    const char* path = "modprobe";
    for (const char* candidate : {"/usr/sbin/modprobe", "/sbin/modprobe"}) {
        if (::access(candidate, X_OK) == 0) {
            path = candidate;
            break;
        }
    }
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    for (int fd : {0, 1, 2}) {
        posix_spawn_file_actions_addopen(&files, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    // The daemon blocks signals for its signalfd; modprobe gets a clean mask and default actions.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::array<char*, 4> argv{const_cast<char*>("modprobe"), const_cast<char*>("-q"),
                              const_cast<char*>("nbd"), nullptr};
    pid_t pid = -1;
    int rc = path[0] == '/' ? posix_spawn(&pid, path, &files, &attr, argv.data(), environ)
                            : posix_spawnp(&pid, path, &files, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return fmt::format("cannot run modprobe: {}", std::strerror(rc));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return fmt::format("waitpid: {}", std::strerror(errno));
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return "";
    }
    if (WIFEXITED(status)) {
        return fmt::format("exit status {}", WEXITSTATUS(status));
    }
    return fmt::format("killed by signal {}", WTERMSIG(status));
}

// `modprobe nbd` runs at most once per process; its outcome is kept for later error messages.
std::mutex g_modprobe_mutex;
bool g_modprobe_tried = false;
std::string g_modprobe_failure;

// The nbd family id, loading the driver first if it is missing.
Result<uint16_t> nbd_family(GenlSocket& sock) {
    auto id = resolve_family(sock);
    if (id || id.error().code != ENODEV) {
        return id;
    }
    std::string failure;
    {
        std::lock_guard lock(g_modprobe_mutex);
        if (!g_modprobe_tried) {
            g_modprobe_tried = true;
            g_modprobe_failure = run_modprobe();
        }
        failure = g_modprobe_failure;
    }
    id = resolve_family(sock);
    if (id || id.error().code != ENODEV) {
        return id;
    }
    if (!failure.empty()) {
        return errorf(ENODEV, "the kernel has no nbd driver (modprobe nbd failed: {})", failure);
    }
    return errorf(ENODEV, "the kernel has no nbd driver (modprobe nbd succeeded but no '{}' netlink family)",
                  NBD_GENL_FAMILY_NAME);
}

bool valid_block_size(uint32_t bs) {
    long page = ::sysconf(_SC_PAGESIZE);
    return bs >= 512 && (bs & (bs - 1)) == 0 && bs <= static_cast<uint64_t>(page > 0 ? page : 4096);
}

bool device_exists(int index) {
    struct stat st;
    return ::stat(fmt::format("/sys/block/nbd{}", index).c_str(), &st) == 0;
}

}  // namespace

Result<int> kernel_nbd_attach(const KernelAttach& attach) {
    if (attach.sockets.empty()) {
        return errorf(EINVAL, "kernel nbd attach: no sockets");
    }
    for (int fd : attach.sockets) {
        if (fd < 0) {
            return errorf(EINVAL, "kernel nbd attach: invalid socket fd {}", fd);
        }
    }
    if (!valid_block_size(attach.block_size)) {
        return errorf(EINVAL,
                      "kernel nbd attach: block size {} is not a power of two from 512 to the page size",
                      attach.block_size);
    }
    if (attach.size_bytes == 0 || attach.size_bytes % attach.block_size != 0) {
        return errorf(EINVAL, "kernel nbd attach: size {} is not a positive multiple of the block size {}",
                      attach.size_bytes, attach.block_size);
    }
    auto sock = GenlSocket::open();
    if (!sock) {
        return std::unexpected(sock.error());
    }
    auto family = nbd_family(*sock);
    if (!family) {
        return std::unexpected(family.error());
    }
    GenlRequest req(*family, NBD_CMD_CONNECT, NBD_GENL_VERSION);
    // No NBD_ATTR_INDEX: the driver takes the first unused device (creating one if all are busy).
    req.put_u64(NBD_ATTR_SIZE_BYTES, attach.size_bytes);
    req.put_u64(NBD_ATTR_BLOCK_SIZE_BYTES, attach.block_size);
    req.put_u64(NBD_ATTR_SERVER_FLAGS, attach.transmission_flags);
    if (attach.timeout_s > 0) {
        req.put_u64(NBD_ATTR_TIMEOUT, attach.timeout_s);
    }
    size_t sockets = req.begin_nested(NBD_ATTR_SOCKETS);
    for (int fd : attach.sockets) {
        size_t item = req.begin_nested(NBD_SOCK_ITEM);
        req.put_u32(NBD_SOCK_FD, static_cast<uint32_t>(fd));
        req.end_nested(item);
    }
    req.end_nested(sockets);
    auto answers = sock->transact(req, *family);
    if (!answers) {
        const Error& e = answers.error();
        std::string_view hint;
        if (e.code == EPERM) {
            hint = " (needs CAP_SYS_ADMIN)";
        } else if (e.code == EBUSY) {
            hint = " (no free /dev/nbdN)";
        }
        return errorf(e.code, "kernel nbd connect: {}{}", e.message, hint);
    }
    for (const auto& payload : *answers) {
        if (auto index = attr_value<uint32_t>(parse_attrs(payload), NBD_ATTR_INDEX)) {
            return static_cast<int>(*index);
        }
    }
    return errorf(EPROTO, "kernel nbd connect: the driver answered without the device index");
}

Status kernel_nbd_detach(int index) {
    if (index < 0) {
        return errorf(EINVAL, "kernel nbd detach: invalid device index {}", index);
    }
    auto sock = GenlSocket::open();
    if (!sock) {
        return std::unexpected(sock.error());
    }
    // No driver: nothing can be connected, and detach does not load it.
    auto family = resolve_family(*sock);
    if (!family) {
        return family.error().code == ENODEV ? ok() : std::unexpected(family.error());
    }
    GenlRequest req(*family, NBD_CMD_DISCONNECT, NBD_GENL_VERSION);
    req.put_u32(NBD_ATTR_INDEX, static_cast<uint32_t>(index));
    auto answers = sock->transact(req, *family);
    if (!answers) {
        // The driver answers EINVAL for an index it has no device for: not connected either.
        if (answers.error().code == EINVAL && !device_exists(index)) {
            return ok();
        }
        return errorf(answers.error().code, "kernel nbd disconnect /dev/nbd{}: {}", index,
                      answers.error().message);
    }
    return ok();
}

bool kernel_nbd_available() {
    auto sock = GenlSocket::open();
    return sock && nbd_family(*sock).has_value();
}

}  // namespace ms::nbd
