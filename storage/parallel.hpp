#pragma once

#include <cstddef>
#include <functional>

namespace mlo {

// Number of worker threads to use when the configuration says 0 ("all cores").
unsigned default_jobs();

// Calls fn(i) for every i in [0, n) on up to `jobs` threads (the caller is one of them).
// The first exception stops the others from taking new items and is rethrown here; an
// interrupt is noticed between items and rethrown as Interrupted.
void parallel_for(size_t n, unsigned jobs, const std::function<void(size_t)>& fn);

}  // namespace mlo
