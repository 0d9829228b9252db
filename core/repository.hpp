#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "storage/database.hpp"
#include "storage/fs.hpp"
#include "storage/lock.hpp"
#include "storage/object_store.hpp"
#include "storage/stat_cache.hpp"

namespace mlo::core {

inline constexpr const char* kDotMlo = ".mlo";

// An mlo repository: the directory holding .mlo/, its configuration, object store and database.
// The database is opened on first use, so commands that never need it never create it.
class Repository {
public:
    // The nearest directory at or above `start` that has a .mlo/ directory.
    static std::optional<fs::path> find_root(const fs::path& start);
    // Throws Error "not an mlo repository (or any parent directory): '<start>'".
    static Repository open(const fs::path& start);
    // Creates .mlo/ and its contents in `dir`; an existing repository keeps everything it has.
    // Returns true if it was created, false if it existed.
    static bool init(const fs::path& dir);

    explicit Repository(fs::path root);
    Repository(Repository&&) = default;

    // A separate workspace of this repository (an experiment's, under .mlo/tmp/): its own
    // files at `root`, the same configuration, object store and database, its locks in
    // `private_tmp`, and a stat cache that lives in memory only (the shared one describes the
    // user's workspace).
    Repository workspace(fs::path root, fs::path private_tmp) const;

    // The workspace: where mlo.yaml, params.yaml and tracked data live.
    const fs::path& root() const { return root_; }
    // The repository's .mlo directory (the user's, also for an experiment's workspace).
    const fs::path& dot_mlo() const { return dot_; }
    // Where this workspace's locks and temporary files go (.mlo/tmp for the user's).
    const fs::path& tmp_dir() const { return tmp_; }
    // The user's workspace (differs from root() in an experiment's workspace).
    const fs::path& main_root() const { return main_root_; }
    const Config& config() const { return config_; }
    unsigned jobs() const;
    ObjectStore& store() { return *store_; }
    Database& db();
    StatCache& stat_cache();

    // Serialises commands that change the workspace or the store (add, checkout, gc, fsck).
    // `on_wait` is told the holder's pid if we have to wait.
    [[nodiscard]] std::unique_ptr<FileLock> lock_workspace(
        const std::function<void(long)>& on_wait);

    // '/'-separated path relative to the root ("" for the root itself); `abs` must be inside.
    std::string rel(const fs::path& abs) const;
    fs::path abs(const std::string& rel) const { return rel.empty() ? root_ : root_ / rel; }

    // Resolves a path from the command line (relative to the current directory) to an absolute,
    // normalised path inside the repository; throws Error for one outside it or inside .mlo/.
    // The last component is not resolved, so the path may name a symbolic link.
    fs::path resolve_arg(const std::string& arg) const;

private:
    fs::path root_, dot_, tmp_, main_root_;
    bool memory_stat_cache_ = false;
    Config config_;
    std::unique_ptr<ObjectStore> store_;
    std::unique_ptr<Database> db_;
    std::unique_ptr<StatCache> stat_cache_;
};

}  // namespace mlo::core
