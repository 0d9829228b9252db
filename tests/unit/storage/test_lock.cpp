#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "storage/lock.hpp"
#include "testutil.hpp"

using namespace mlo;
using mlo::test::read_text;
using mlo::test::TempDir;

TEST_CASE("FileLock acquire and release", "[lock]") {
    TempDir tmp;
    FileLock lock(tmp / "tmp" / "workspace.lock");  // the directory is created
    CHECK_FALSE(lock.held());
    REQUIRE(lock.acquire());
    CHECK(lock.held());
    CHECK(fs::exists(tmp / "tmp" / "workspace.lock"));
    lock.release();
    CHECK_FALSE(lock.held());
    REQUIRE(lock.try_acquire());
    CHECK(lock.held());
}

TEST_CASE("a second FileLock on the same file waits for the first", "[lock]") {
    TempDir tmp;
    const fs::path file = tmp / "x.lock";
    FileLock first(file);
    FileLock second(file);
    REQUIRE(first.try_acquire());
    CHECK_FALSE(second.try_acquire());
    CHECK_FALSE(second.held());
    CHECK_FALSE(second.try_acquire());
    first.release();
    CHECK(second.try_acquire());
    CHECK(second.held());
    CHECK_FALSE(first.try_acquire());
}

TEST_CASE("a FileLock is released by its destructor", "[lock]") {
    TempDir tmp;
    const fs::path file = tmp / "x.lock";
    {
        FileLock scoped(file);
        REQUIRE(scoped.try_acquire());
        FileLock other(file);
        CHECK_FALSE(other.try_acquire());
    }
    FileLock after(file);
    CHECK(after.try_acquire());
}

TEST_CASE("the lock file records the holder's pid", "[lock]") {
    TempDir tmp;
    const fs::path file = tmp / "x.lock";
    mlo::test::write_text(file, "999999999 stale content that is longer\n");
    FileLock lock(file);
    REQUIRE(lock.acquire());
    CHECK(read_text(file) == std::to_string(::getpid()) + "\n");
}

TEST_CASE("acquire blocks while another holds the lock and reports the holder's pid", "[lock]") {
    TempDir tmp;
    const fs::path file = tmp / "x.lock";
    std::atomic<long> reported{-1};
    std::promise<void> waiting;
    auto waiting_future = waiting.get_future();
    std::future<bool> acquired;
    // Declared after `acquired` so that it is released first if a REQUIRE fails: the future's
    // destructor waits for the waiting thread.
    FileLock holder(file);
    REQUIRE(holder.acquire());

    acquired = std::async(std::launch::async, [&] {
        FileLock waiter(file);
        bool ok = waiter.acquire([&](long pid) {
            reported = pid;
            waiting.set_value();
        });
        return ok && waiter.held();
    });
    REQUIRE(waiting_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(reported == long(::getpid()));
    // Still waiting while the holder keeps the lock.
    CHECK(acquired.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
    holder.release();
    REQUIRE(acquired.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(acquired.get());
}
