#pragma once

#include <string>

#include "core/config.hpp"
#include "storage/fs.hpp"
#include "storage/remote.hpp"

namespace mlo::core {

// The remotes of .mlo/config.yaml. `mlo remote add/remove` own its `remotes:` section: they
// rewrite that section and leave the rest of the file (comments included) as it was.
// Credentials are never written there; an S3 remote names at most a profile.

// The remote called `name`, or the default one when `name` is empty (the only one, when there
// is exactly one). Throws Error when there is none.
const RemoteSpec& find_remote(const Config& config, const std::string& name);

// Throws Error for a bad name ([A-Za-z0-9_.-], not starting with '.' or '-'), an existing
// name, a malformed URL, or S3 options on a directory remote.
void add_remote(const fs::path& config_file, const RemoteSpec& spec, bool make_default);
void remove_remote(const fs::path& config_file, const std::string& name);
// Marks `name` as the default (and no other).
void set_default_remote(const fs::path& config_file, const std::string& name);

}  // namespace mlo::core
