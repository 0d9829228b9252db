#pragma once

#include <vector>

#include "storage/fs.hpp"
#include "storage/link.hpp"
#include "storage/remote.hpp"

namespace mlo::core {

// .mlo/config.yaml. Unknown keys are errors (a typo must not silently fall back to a default).
//
//   core:
//     link: reflink,copy   # how checkout makes workspace files; ordered fallback
//     jobs: 0              # worker threads for hashing and copying; 0 = all cores
//     fsync: true          # flush new objects to disk before pointer files name them
//   remotes:               # written by `mlo remote add/remove`
//     origin:
//       url: s3://bucket/prefix   # or a directory
//       endpoint: http://127.0.0.1:9000
//       region: eu-west-1
//       profile: team
//       path_style: true
//       default: true
struct Config {
    std::vector<LinkKind> link{LinkKind::reflink, LinkKind::copy};
    unsigned jobs = 0;
    bool fsync = true;
    std::vector<RemoteSpec> remotes;  // in file order
    std::string default_remote;       // "" when none is marked default

    static Config load(const fs::path& file);
    static std::string default_text();
};

}  // namespace mlo::core
