#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace mlo::core {

// Counters that long operations advance from any thread; the CLI draws them when stderr is a
// terminal. Core code never prints.
class Progress {
public:
    void start(std::string phase, uint64_t total) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            phase_ = std::move(phase);
        }
        done_ = 0;
        total_ = total;
    }
    void advance(uint64_t n = 1) { done_.fetch_add(n, std::memory_order_relaxed); }
    uint64_t done() const { return done_.load(std::memory_order_relaxed); }
    uint64_t total() const { return total_.load(std::memory_order_relaxed); }
    std::string phase() const {
        std::lock_guard<std::mutex> lock(mu_);
        return phase_;
    }

private:
    mutable std::mutex mu_;
    std::string phase_;
    std::atomic<uint64_t> done_{0};
    std::atomic<uint64_t> total_{0};
};

}  // namespace mlo::core
