#include "storage/parallel.hpp"

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/interrupt.hpp"

namespace mlo {

unsigned default_jobs() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

void parallel_for(size_t n, unsigned jobs, const std::function<void(size_t)>& fn) {
    if (n == 0) return;
    if (jobs == 0) jobs = default_jobs();
    if (jobs > n) jobs = unsigned(n);
    std::atomic<size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr first;
    std::mutex mu;
    auto worker = [&] {
        for (;;) {
            if (stop.load(std::memory_order_relaxed)) return;
            size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= n) return;
            try {
                check_interrupted();
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (!first) first = std::current_exception();
                stop = true;
                return;
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(jobs - 1);
    for (unsigned t = 1; t < jobs; ++t)
        threads.emplace_back(worker);
    worker();
    for (auto& t : threads)
        t.join();
    if (first) std::rethrow_exception(first);
}

}  // namespace mlo
