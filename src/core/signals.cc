#include "core/signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/reactor.h"

namespace ms {

void block_signals(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) {
        sigaddset(&set, s);
    }
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

namespace {
Task<Result<int>> wait_for_set(sigset_t set) {
    int fd = ::signalfd(-1, &set, SFD_CLOEXEC);
    if (fd < 0) {
        co_return errno_error(errno, "signalfd");
    }
    signalfd_siginfo info{};
    int res = co_await cancellable_uring_op(
        [&](io_uring_sqe* sqe) { io_uring_prep_read(sqe, fd, &info, sizeof info, 0); });
    ::close(fd);
    if (res < 0) {
        co_return errno_error(res, "read signalfd");
    }
    co_return static_cast<int>(info.ssi_signo);
}
}  // namespace

// Not a coroutine: a lazy coroutine would keep only the initializer_list, whose array is gone
// by the time the task starts.
Task<Result<int>> wait_for_signal(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals) {
        sigaddset(&set, s);
    }
    return wait_for_set(set);
}

}  // namespace ms
