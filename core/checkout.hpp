#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/progress.hpp"
#include "core/repository.hpp"
#include "core/workspace.hpp"

namespace mlo::core {

enum class Force { no, yes };

struct CheckoutOptions {
    Force force = Force::no;
    std::function<void(long holder_pid)> on_wait;
    Progress* progress = nullptr;
};

struct CheckoutResult {
    std::vector<std::string> restored;  // repository-relative paths written
    std::vector<std::string> removed;   // files in a tracked directory that its manifest lacks
    uint64_t unchanged = 0;
    std::map<std::string, uint64_t> by_link;  // "copy" -> count, ...
};

// Makes the workspace match the pointer files. A workspace file whose content is not in the
// store would be lost by overwriting or removing it, so without Force::yes such a file stops the
// whole checkout before anything changes; so does an object missing from the store.
CheckoutResult checkout(Repository& repo, const std::vector<Selection>& sels,
                        const CheckoutOptions& options);

}  // namespace mlo::core
