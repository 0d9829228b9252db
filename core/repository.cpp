#include "core/repository.hpp"

#include <sys/stat.h>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

namespace {

bool is_dir(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// .mlo/.gitignore: only config.yaml (and this file) belong in git; objects travel by push/pull.
constexpr const char* kGitignore =
    "# Everything here is local to this clone except the settings.\n"
    "/*\n"
    "!/.gitignore\n"
    "!/config.yaml\n";

}  // namespace

std::optional<fs::path> Repository::find_root(const fs::path& start) {
    std::error_code ec;
    fs::path p = fs::absolute(start, ec).lexically_normal();
    if (ec) return std::nullopt;
    if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
    for (;;) {
        if (is_dir(p / kDotMlo)) return p;
        if (p == p.root_path() || !p.has_parent_path()) return std::nullopt;
        p = p.parent_path();
    }
}

Repository Repository::open(const fs::path& start) {
    auto root = find_root(start);
    if (!root) throw Error("not an mlo repository (or any parent directory): " + quote(start));
    return Repository(*root);
}

bool Repository::init(const fs::path& dir) {
    fs::path dot = dir / kDotMlo;
    bool existed = is_dir(dot);
    make_dirs(dot / "objects");
    make_dirs(dot / "tmp");
    if (!fs::exists(dot / "config.yaml"))
        write_file_atomic(dot / "config.yaml", Config::default_text());
    if (!fs::exists(dot / ".gitignore")) write_file_atomic(dot / ".gitignore", kGitignore);
    Repository repo(dir);
    repo.db();  // creates and migrates mlo.db
    return !existed;
}

Repository::Repository(fs::path root)
    : root_(std::move(root)),
      dot_(root_ / kDotMlo),
      tmp_(dot_ / "tmp"),
      main_root_(root_),
      config_(Config::load(dot_ / "config.yaml")),
      store_(std::make_unique<ObjectStore>(dot_ / "objects")) {}

Repository Repository::workspace(fs::path root, fs::path private_tmp) const {
    Repository r(main_root_);
    r.root_ = std::move(root);
    r.tmp_ = std::move(private_tmp);
    r.memory_stat_cache_ = true;
    return r;
}

unsigned Repository::jobs() const {
    return config_.jobs ? config_.jobs : default_jobs();
}

Database& Repository::db() {
    if (!db_) {
        make_dirs(dot_mlo());
        db_ = std::make_unique<Database>(dot_mlo() / "mlo.db");
    }
    return *db_;
}

StatCache& Repository::stat_cache() {
    if (!stat_cache_) stat_cache_ = std::make_unique<StatCache>(db(), !memory_stat_cache_);
    return *stat_cache_;
}

std::unique_ptr<FileLock> Repository::lock_workspace(const std::function<void(long)>& on_wait) {
    auto lock = std::make_unique<FileLock>(tmp_ / "workspace.lock");
    if (!lock->acquire(on_wait)) throw Error("cannot lock the workspace");
    return lock;
}

std::string Repository::rel(const fs::path& abs) const {
    fs::path r = abs.lexically_relative(root_);
    std::string s = r.generic_string();
    if (s == ".") return "";
    return s;
}

fs::path Repository::resolve_arg(const std::string& arg) const {
    if (arg.empty()) throw Error("empty path");
    std::error_code ec;
    fs::path p = fs::absolute(arg, ec).lexically_normal();
    if (ec) throw Error("cannot resolve " + quote(arg) + ": " + ec.message());
    // "data/" normalises to "data/" with an empty filename.
    if (!p.has_filename() && p != p.root_path()) p = p.parent_path();
    // Resolve symbolic links in the directories above, so a path through a link into the
    // repository (or out of it) is judged by where it really is.
    if (p != p.root_path()) {
        fs::path parent = fs::weakly_canonical(p.parent_path(), ec);
        if (!ec) p = parent / p.filename();
    }
    fs::path r = p.lexically_relative(root_);
    std::string s = r.generic_string();
    if (r.empty() || s == ".." || s.rfind("../", 0) == 0) {
        throw Error(quote(arg) + " is outside the repository " + quote(root_));
    }
    std::string first = s.substr(0, s.find('/'));
    if (first == kDotMlo)
        throw Error(quote(arg) + " is inside the repository's " + quote(kDotMlo) + " directory");
    if (first == ".git") throw Error(quote(arg) + " is inside the git directory");
    return s == "." ? root_ : root_ / r;
}

}  // namespace mlo::core
