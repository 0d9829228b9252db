#pragma once

#include "storage/fs.hpp"

namespace mlo::core {

// Makes sure `.gitignore` in the directory of `data` has the line "/<name of data>", so git
// ignores the data and tracks only its pointer file. Existing content is kept as it is.
// Returns true if the file was changed.
bool ensure_gitignored(const fs::path& data);
// The .gitignore line that matches exactly the file or directory `name` in its directory.
std::string gitignore_pattern(const std::string& name);

}  // namespace mlo::core
