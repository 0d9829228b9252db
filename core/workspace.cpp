#include "core/workspace.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "storage/error.hpp"
#include "storage/interrupt.hpp"

namespace mlo::core {

namespace {

bool inside(const fs::path& p, const fs::path& root) {
    fs::path r = p.lexically_relative(root);
    std::string s = r.generic_string();
    return !r.empty() && s != ".." && s.rfind("../", 0) != 0;
}

struct DirEntryInfo {
    std::string name;
    unsigned char type;
};

std::vector<DirEntryInfo> read_dir(const fs::path& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw_errno("cannot read directory " + quote(dir));
    std::vector<DirEntryInfo> out;
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        out.push_back({std::string(name), e->d_type});
    }
    ::closedir(d);
    return out;
}

}  // namespace

std::vector<ScanEntry> scan_tree(const fs::path& dir, const fs::path& root, unsigned jobs,
                                 NestedPointers nested) {
    // Each directory is listed on whichever thread takes it and its files sorted there; a walk
    // of the directories in order then yields every path in bytewise order without one sort of
    // all of them (a sort of 100,000 paths was a fifth of `status`).
    struct Node {
        std::string rel;                                   // "" or "a/b"
        std::vector<ScanEntry> files;                      // sorted by path
        std::vector<std::pair<std::string, size_t>> dirs;  // name + "/", node; sorted
    };
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Node> nodes(1);  // a deque: nodes keep their address as it grows
    std::deque<size_t> queue{0};
    size_t busy = 0;
    bool failed = false;
    std::exception_ptr error;

    auto scan_one = [&](Node& node, std::vector<std::string>& subdirs) {
        const std::string& rel_dir = node.rel;
        fs::path here = rel_dir.empty() ? dir : dir / rel_dir;
        DIR* d = ::opendir(here.c_str());
        if (!d) throw_errno("cannot read directory " + quote(here));
        std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
        const int dfd = ::dirfd(d);
        std::vector<DirEntryInfo> entries;
        while (dirent* e = ::readdir(d)) {
            std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            entries.push_back({std::string(name), e->d_type});
        }
        // Only a directory that holds a pointer file needs the set of its names.
        std::set<std::string> names;
        if (nested == NestedPointers::error &&
            std::any_of(entries.begin(), entries.end(),
                        [](const DirEntryInfo& e) { return is_pointer_name(e.name); })) {
            for (const auto& e : entries)
                names.insert(e.name);
        }
        const std::string prefix = rel_dir.empty() ? std::string() : rel_dir + "/";
        for (const auto& e : entries) {
            if (is_temp_name(e.name)) continue;
            if (e.type == DT_DIR) {
                subdirs.push_back(e.name);
                continue;
            }
            if (nested == NestedPointers::error && is_pointer_name(e.name) &&
                names.count(e.name.substr(0, e.name.size() - kPointerSuffix.size()))) {
                throw Error(quote(here / e.name) +
                            " is a pointer file: the directory holds data tracked on its own");
            }
            struct stat st {};
            // Relative to the open directory: no path walk from the root for every file.
            if (::fstatat(dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
                throw_errno("cannot stat " + quote(here / e.name));
            if (S_ISDIR(st.st_mode)) {
                subdirs.push_back(e.name);
                continue;
            }
            if (S_ISLNK(st.st_mode)) {
                fs::path full = here / e.name;
                std::error_code ec;
                fs::path target = fs::canonical(full, ec);
                if (ec)
                    throw Error("cannot follow symbolic link " + quote(full) + ": " + ec.message());
                if (!inside(target, root)) {
                    throw Error("symbolic link " + quote(full) +
                                " leads outside the repository, to " + quote(target));
                }
                if (::stat(full.c_str(), &st) != 0) throw_errno("cannot stat " + quote(full));
                if (S_ISDIR(st.st_mode)) {
                    throw Error("symbolic link " + quote(full) +
                                " leads to a directory; only links to files are supported");
                }
            }
            if (!S_ISREG(st.st_mode)) throw Error(quote(here / e.name) + " is not a regular file");
            node.files.push_back({prefix + e.name, to_file_stat(st)});
        }
        std::sort(node.files.begin(), node.files.end(),
                  [](const ScanEntry& a, const ScanEntry& b) { return a.path < b.path; });
    };

    auto worker = [&] {
        std::vector<std::string> subdirs;
        for (;;) {
            Node* node;
            {
                std::unique_lock<std::mutex> lock(mu);
                cv.wait(lock, [&] { return failed || !queue.empty() || busy == 0; });
                if (failed || (queue.empty() && busy == 0)) break;
                node = &nodes[queue.front()];
                queue.pop_front();
                ++busy;
            }
            subdirs.clear();
            try {
                check_interrupted();
                scan_one(*node, subdirs);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (!error) error = std::current_exception();
                failed = true;
                --busy;
                cv.notify_all();
                break;
            }
            {
                std::lock_guard<std::mutex> lock(mu);
                const std::string prefix = node->rel.empty() ? std::string() : node->rel + "/";
                for (auto& name : subdirs) {
                    nodes.push_back(Node{prefix + name, {}, {}});
                    node->dirs.emplace_back(std::move(name) + "/", nodes.size() - 1);
                    queue.push_back(nodes.size() - 1);
                }
                --busy;
            }
            std::sort(node->dirs.begin(), node->dirs.end());
            cv.notify_all();
        }
    };

    if (jobs == 0) jobs = 1;
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < jobs; ++i)
        threads.emplace_back(worker);
    worker();
    for (auto& t : threads)
        t.join();
    if (error) std::rethrow_exception(error);

    // Within a directory, a file named "a.txt" comes before the files of a directory "a" and
    // "a0" after them: bytewise, '.' < '/' < '0'. So files (by name) and directories (by name and
    // "/") are merged in that order, each directory's files emitted where it falls.
    size_t total = 0;
    for (const auto& n : nodes)
        total += n.files.size();
    std::vector<ScanEntry> result;
    result.reserve(total);
    auto base = [](const std::string& path) {
        size_t slash = path.rfind('/');
        return std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
    };
    // Depth-first with an explicit stack (trees can be deep): node, next file, next directory.
    struct Frame {
        Node* node;
        size_t file;
        size_t sub;
    };
    std::vector<Frame> stack{{&nodes[0], 0, 0}};
    while (!stack.empty()) {
        Frame& f = stack.back();
        Node& n = *f.node;
        bool more_files = f.file < n.files.size(), more_dirs = f.sub < n.dirs.size();
        if (!more_files && !more_dirs) {
            stack.pop_back();
            continue;
        }
        if (more_files &&
            (!more_dirs || base(n.files[f.file].path) < std::string_view(n.dirs[f.sub].first))) {
            result.push_back(std::move(n.files[f.file++]));
        } else {
            Node* child = &nodes[n.dirs[f.sub++].second];
            stack.push_back({child, 0, 0});
        }
    }
    return result;
}

std::vector<Pointer> find_pointers(const Repository& repo) {
    std::vector<Pointer> out;
    std::vector<std::string> stack{""};
    while (!stack.empty()) {
        check_interrupted();
        std::string rel_dir = std::move(stack.back());
        stack.pop_back();
        fs::path here = repo.abs(rel_dir);
        auto entries = read_dir(here);
        std::set<std::string> tracked;
        for (const auto& e : entries) {
            if (!is_pointer_name(e.name) || is_temp_name(e.name)) continue;
            fs::path full = here / e.name;
            struct stat st {};
            if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            std::string data_name = e.name.substr(0, e.name.size() - kPointerSuffix.size());
            tracked.insert(data_name);
            std::string rel = rel_dir.empty() ? data_name : rel_dir + "/" + data_name;
            std::string shown = rel_dir.empty() ? e.name : rel_dir + "/" + e.name;
            out.push_back(read_pointer(full, rel, shown));
        }
        for (const auto& e : entries) {
            bool dir = e.type == DT_DIR;
            if (e.type == DT_UNKNOWN) {
                struct stat st {};
                dir = ::lstat((here / e.name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            }
            if (!dir || tracked.count(e.name)) continue;
            if (rel_dir.empty() && (e.name == kDotMlo || e.name == ".git")) continue;
            stack.push_back(rel_dir.empty() ? e.name : rel_dir + "/" + e.name);
        }
    }
    std::sort(out.begin(), out.end(),
              [](const Pointer& a, const Pointer& b) { return a.rel < b.rel; });
    return out;
}

std::vector<Selection> select_pointers(const Repository& repo, const std::vector<Pointer>& all,
                                       const std::vector<std::string>& args,
                                       std::vector<bool>* matched) {
    std::vector<Selection> out;
    if (args.empty()) {
        for (const auto& p : all)
            out.push_back({p, ""});
        return out;
    }
    if (matched) matched->assign(args.size(), false);
    for (size_t k = 0; k < args.size(); ++k) {
        const std::string& arg = args[k];
        std::string rel = repo.rel(repo.resolve_arg(arg));
        if (is_pointer_name(rel)) {
            std::string stripped = rel.substr(0, rel.size() - kPointerSuffix.size());
            if (std::any_of(all.begin(), all.end(),
                            [&](const Pointer& p) { return p.rel == stripped; }))
                rel = stripped;
        }
        bool hit = false;
        for (const auto& p : all) {
            bool under_arg = rel.empty() || p.rel == rel ||
                             (p.rel.size() > rel.size() && p.rel.compare(0, rel.size(), rel) == 0 &&
                              p.rel[rel.size()] == '/');
            if (under_arg) {
                out.push_back({p, ""});
                hit = true;
            } else if (p.is_dir && rel.size() > p.rel.size() &&
                       rel.compare(0, p.rel.size(), p.rel) == 0 && rel[p.rel.size()] == '/') {
                out.push_back({p, rel.substr(p.rel.size() + 1)});
                hit = true;
            }
        }
        if (matched)
            (*matched)[k] = hit;
        else if (!hit)
            throw Error(quote(arg) + " is not tracked by mlo (no pointer file for it)");
    }
    return out;
}

std::vector<Selection> select_tracked(Repository& repo, const std::vector<std::string>& args) {
    return select_pointers(repo, find_pointers(repo), args, nullptr);
}

}  // namespace mlo::core
