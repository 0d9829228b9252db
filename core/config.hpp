#pragma once

#include <vector>

#include "storage/fs.hpp"
#include "storage/link.hpp"

namespace mlo::core {

// .mlo/config.yaml. Unknown keys are errors (a typo must not silently fall back to a default).
//
//   core:
//     link: reflink,copy   # how checkout makes workspace files; ordered fallback
//     jobs: 0              # worker threads for hashing and copying; 0 = all cores
//     fsync: true          # flush new objects to disk before pointer files name them
struct Config {
    std::vector<LinkKind> link{LinkKind::reflink, LinkKind::copy};
    unsigned jobs = 0;
    bool fsync = true;

    static Config load(const fs::path& file);
    static std::string default_text();
};

}  // namespace mlo::core
