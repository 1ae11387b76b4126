// Task<T>: lazy start, values and void, nested awaits, symmetric transfer (no stack growth on
// long chains of synchronous completions), move semantics and frame ownership.
#include "core/task.h"

#include <gtest/gtest.h>

#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ms {
namespace {

// A top-level coroutine that starts eagerly and stays suspended at its end, so a test can drive
// a Task from ordinary code and look at what happened.
struct Driver {
    struct promise_type {
        Driver get_return_object() noexcept {
            return Driver{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); }
    };
    explicit Driver(std::coroutine_handle<promise_type> h) : _h(h) {}
    Driver(Driver&& o) noexcept : _h(std::exchange(o._h, {})) {}
    Driver(const Driver&) = delete;
    ~Driver() {
        if (_h) {
            _h.destroy();
        }
    }
    bool done() const { return _h.done(); }

   private:
    std::coroutine_handle<promise_type> _h;
};

template <typename T>
Driver drive(Task<T> t, std::optional<T>* out) {
    out->emplace(co_await std::move(t));
}

Driver drive_void(Task<void> t, bool* finished) {
    co_await std::move(t);
    *finished = true;
}

// Runs a task that completes without suspending and returns its value.
template <typename T>
T run_sync(Task<T> t) {
    std::optional<T> out;
    Driver d = drive(std::move(t), &out);
    EXPECT_TRUE(d.done());
    return std::move(*out);
}

// An awaitable that parks the awaiting coroutine in `*slot` until the test resumes it.
struct Park {
    std::coroutine_handle<>* slot;
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
    void await_resume() noexcept {}
};

// Counts its destructions (moved-from instances do not count).
struct Guard {
    int* destroyed;
    explicit Guard(int* d) : destroyed(d) {}
    Guard(Guard&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
    Guard(const Guard&) = delete;
    ~Guard() {
        if (destroyed != nullptr) {
            ++*destroyed;
        }
    }
};

Task<int> answer() {
    co_return 42;
}
Task<void> nothing(int* calls) {
    ++*calls;
    co_return;
}
Task<std::string> text(std::string s) {
    co_return s + "!";
}
Task<std::unique_ptr<int>> boxed(int v) {
    co_return std::make_unique<int>(v);
}

TEST(Task, IsLazy) {
    int calls = 0;
    Task<void> t = nothing(&calls);
    EXPECT_TRUE(t.valid());
    EXPECT_FALSE(t.done());
    EXPECT_EQ(calls, 0) << "a task must not run before it is awaited";
    bool finished = false;
    Driver d = drive_void(std::move(t), &finished);
    EXPECT_TRUE(finished);
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(d.done());
}

TEST(Task, ReturnsValues) {
    EXPECT_EQ(run_sync(answer()), 42);
    EXPECT_EQ(run_sync(text("hi")), "hi!");
    EXPECT_EQ(run_sync(text(std::string(1000, 'x'))), std::string(1000, 'x') + "!");
    auto p = run_sync(boxed(7));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);
}

TEST(Task, ReadyReturnsItsValue) {
    EXPECT_EQ(run_sync(ready(5)), 5);
    EXPECT_EQ(run_sync(ready(std::string("r"))), "r");
}

struct NoDefault {
    explicit NoDefault(int v) : value(v) {}
    int value;
};
Task<NoDefault> no_default(int v) {
    co_return NoDefault(v);
}

TEST(Task, ValueTypeNeedsNoDefaultConstructor) {
    EXPECT_EQ(run_sync(no_default(3)).value, 3);
}

Task<int> add(int a, int b) {
    int x = co_await ready(a);
    int y = co_await ready(b);
    co_return x + y;
}
Task<int> nested(int depth) {
    if (depth == 0) {
        co_return 1;
    }
    int below = co_await nested(depth - 1);
    co_return below + 1;
}

TEST(Task, NestedAwaits) {
    EXPECT_EQ(run_sync(add(2, 3)), 5);
    EXPECT_EQ(run_sync(nested(100)), 101);
}

TEST(Task, AwaitsAnLvalueTask) {
    auto outer = []() -> Task<int> {
        Task<int> t = answer();
        int v = co_await t;
        co_return v + 1;
    };
    EXPECT_EQ(run_sync(outer()), 43);
}

Task<int> one() {
    co_return 1;
}
Task<void> step(long* n) {
    ++*n;
    co_return;
}

// Each co_await below completes without suspending. Were the awaiter resumed from inside the
// awaited task (symmetric transfer that the compiler does not make a tail call, as GCC at -O0
// or with ASan), every await would nest two frames and a million would overflow the stack.
Task<long> long_chain(long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        sum += co_await one();
    }
    co_return sum;
}
Task<long> long_void_chain(long n) {
    long count = 0;
    for (long i = 0; i < n; ++i) {
        co_await step(&count);
    }
    co_return count;
}

TEST(Task, MillionSynchronousAwaitsDoNotGrowTheStack) {
    constexpr long kN = 1'000'000;
    EXPECT_EQ(run_sync(long_chain(kN)), kN);
    EXPECT_EQ(run_sync(long_void_chain(kN)), kN);
}

Task<int> parked_one(std::coroutine_handle<>* slot) {
    co_await Park{slot};
    co_return 1;
}

// Each awaited task suspends and is finished later from the top (as the reactor loop does):
// resuming it must not leave frames behind on the stack either.
TEST(Task, MillionAsynchronousCompletionsDoNotGrowTheStack) {
    constexpr long kN = 1'000'000;
    std::coroutine_handle<> parked;
    auto consumer = [](std::coroutine_handle<>* slot) -> Task<long> {
        long sum = 0;
        for (long i = 0; i < kN; ++i) {
            sum += co_await parked_one(slot);
        }
        co_return sum;
    };
    std::optional<long> out;
    Driver d = drive(consumer(&parked), &out);
    long resumed = 0;
    while (!d.done()) {
        ASSERT_TRUE(parked);
        auto h = std::exchange(parked, {});
        h.resume();
        ++resumed;
    }
    EXPECT_EQ(resumed, kN);
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, kN);
}

TEST(Task, ResumesTheAwaiterWhenTheAwaitedTaskFinishesLater) {
    std::coroutine_handle<> parked;
    auto inner = [&]() -> Task<int> {
        co_await Park{&parked};
        co_return 9;
    };
    auto outer = [&]() -> Task<int> {
        int v = co_await inner();
        co_return v * 2;
    };
    std::optional<int> out;
    Driver d = drive(outer(), &out);
    ASSERT_TRUE(parked);
    EXPECT_FALSE(d.done());
    EXPECT_FALSE(out.has_value());
    parked.resume();
    EXPECT_TRUE(d.done());
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, 18);
}

TEST(Task, MoveConstructionTransfersOwnership) {
    Task<int> a = answer();
    ASSERT_TRUE(a.valid());
    Task<int> b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.valid());
    EXPECT_EQ(run_sync(std::move(b)), 42);
}

Task<void> holds(Guard g) {
    (void)g;
    co_return;
}

TEST(Task, MoveAssignmentDestroysTheOldFrame) {
    int destroyed_a = 0;
    int destroyed_b = 0;
    Task<void> a = holds(Guard(&destroyed_a));
    Task<void> b = holds(Guard(&destroyed_b));
    EXPECT_EQ(destroyed_a, 0);
    a = std::move(b);
    EXPECT_EQ(destroyed_a, 1) << "the frame a owned must be destroyed when a is assigned";
    EXPECT_EQ(destroyed_b, 0);
    EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)
    auto& self = a;
    a = std::move(self);  // self-assignment keeps the frame
    EXPECT_TRUE(a.valid());
    EXPECT_EQ(destroyed_b, 0);
    bool finished = false;
    {
        Driver d = drive_void(std::move(a), &finished);
        EXPECT_TRUE(finished);
    }
    EXPECT_EQ(destroyed_b, 1);
}

TEST(Task, DestroyingAnUnstartedTaskFreesItsFrame) {
    int destroyed = 0;
    {
        Task<void> t = holds(Guard(&destroyed));
        EXPECT_EQ(destroyed, 0);
    }
    EXPECT_EQ(destroyed, 1);
    // Many of them: under ASan/LSan a leaked frame is reported at exit.
    for (int i = 0; i < 10000; ++i) {
        Task<void> t = holds(Guard(&destroyed));
    }
    EXPECT_EQ(destroyed, 10001);
}

TEST(Task, DestroyingASuspendedChainFreesEveryFrame) {
    int destroyed = 0;
    std::coroutine_handle<> parked;
    auto inner = [&](Guard g) -> Task<int> {
        (void)g;
        co_await Park{&parked};
        co_return 1;
    };
    auto outer = [&](Guard g) -> Task<int> {
        (void)g;
        co_return co_await inner(Guard(&destroyed));
    };
    {
        Task<int> t = outer(Guard(&destroyed));
        auto starter = [](Task<int>& t) -> Task<void> { co_await t; };
        Task<void> s = starter(t);
        Driver d = drive_void(std::move(s), nullptr);
        ASSERT_TRUE(parked);
        EXPECT_EQ(destroyed, 0);
        // Destroying the driver destroys the starter's frame; the outer task is owned by `t`,
        // which destroys outer's frame, which owns the inner task's frame.
    }
    EXPECT_EQ(destroyed, 2);
}

TEST(Task, ManyFramesOfDifferentSizesAreRecycled) {
    // Exercises the frame pool: frames of several size classes allocated and freed in bulk.
    auto small = []() -> Task<int> { co_return 1; };
    auto large = []() -> Task<int> {
        char pad[1500];
        pad[0] = 1;
        co_await ready(0);
        co_return pad[0];
    };
    auto huge = []() -> Task<int> {
        char pad[8000];
        pad[0] = 2;
        co_await ready(0);
        co_return pad[0];
    };
    for (int round = 0; round < 3; ++round) {
        std::vector<Task<int>> tasks;
        for (int i = 0; i < 5000; ++i) {
            tasks.push_back(i % 3 == 0 ? small() : i % 3 == 1 ? large() : huge());
        }
        long sum = 0;
        long expected = 0;
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            sum += run_sync(std::move(tasks[i]));
            expected += i % 3 == 2 ? 2 : 1;
        }
        EXPECT_EQ(sum, expected);
    }
}

}  // namespace
}  // namespace ms
