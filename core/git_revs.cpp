#include "core/git_revs.hpp"

#include <git2.h>
#include <stdlib.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "storage/atomic_file.hpp"
#include "storage/error.hpp"
#include "storage/interrupt.hpp"
#include "storage/manifest.hpp"

namespace mlo::core {

namespace {

template <typename T, void (*Free)(T*)>
struct RevsFree {
    void operator()(T* p) const {
        if (p) Free(p);
    }
};
template <typename T, void (*Free)(T*)>
using RevsPtr = std::unique_ptr<T, RevsFree<T, Free>>;

using RevsRepo = RevsPtr<git_repository, git_repository_free>;
using RevsObject = RevsPtr<git_object, git_object_free>;
using RevsTree = RevsPtr<git_tree, git_tree_free>;
using RevsTreeEntry = RevsPtr<git_tree_entry, git_tree_entry_free>;
using RevsBlob = RevsPtr<git_blob, git_blob_free>;
using RevsCommit = RevsPtr<git_commit, git_commit_free>;
using RevsWalk = RevsPtr<git_revwalk, git_revwalk_free>;
using RevsRef = RevsPtr<git_reference, git_reference_free>;
using RevsRefIter = RevsPtr<git_reference_iterator, git_reference_iterator_free>;
using RevsWorktree = RevsPtr<git_worktree, git_worktree_free>;

// Throws Error "<what>: <libgit2's message>" when `rc` is an error.
void revs_check(int rc, const std::string& what) {
    if (rc >= 0) return;
    const git_error* e = git_error_last();
    throw Error(what + ": " + (e && e->message ? e->message : "unknown error"));
}

std::string revs_oid_hex(const git_oid* oid) {
    char hex[GIT_OID_HEXSZ + 1] = {};
    git_oid_tostr(hex, sizeof hex, oid);
    return hex;
}

std::string revs_oid_key(const git_oid* oid) {
    return std::string(reinterpret_cast<const char*>(oid->id), GIT_OID_RAWSZ);
}

// The git repository holding the mlo repository, and the mlo repository's place in its work
// tree ("" or "sub/dir/").
struct RevsGit {
    RevsRepo repo;
    std::string prefix;
};

RevsGit revs_open(const Repository& repo) {
    static std::once_flag once;
    std::call_once(once, [] { git_libgit2_init(); });
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, repo.root().c_str(), 0, nullptr);
    RevsGit g{RevsRepo(raw), ""};
    if (rc == GIT_ENOTFOUND) throw Error(quote(repo.root()) + " is not inside a git repository");
    revs_check(rc, "cannot open the git repository of " + quote(repo.root()));
    if (const char* wd = git_repository_workdir(g.repo.get())) {
        fs::path w(wd);
        if (!w.has_filename()) w = w.parent_path();
        std::error_code ec1, ec2;
        std::string p = fs::weakly_canonical(repo.root(), ec1)
                            .lexically_relative(fs::weakly_canonical(w, ec2))
                            .generic_string();
        if (p.rfind("..", 0) == 0)
            throw Error(quote(repo.root()) + " is not inside the work tree of its git repository " +
                        quote(w));
        if (!p.empty() && p != ".") g.prefix = p + "/";
    }
    return g;
}

std::optional<RevsCommit> revs_lookup_commit(git_repository* r, const std::string& rev) {
    git_object* obj = nullptr;
    if (rev.empty() || git_revparse_single(&obj, r, rev.c_str()) != 0) return std::nullopt;
    RevsObject owned(obj);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) return std::nullopt;
    return RevsCommit(reinterpret_cast<git_commit*>(peeled));
}

// The tree of the mlo repository inside a commit's root tree; null when the commit lacks it.
RevsTree revs_mlo_tree(git_repository* r, const git_tree* root, const std::string& prefix) {
    git_tree* out = nullptr;
    if (prefix.empty()) {
        revs_check(git_tree_dup(&out, const_cast<git_tree*>(root)), "cannot read a git tree");
        return RevsTree(out);
    }
    git_tree_entry* raw = nullptr;
    int rc = git_tree_entry_bypath(&raw, root, prefix.substr(0, prefix.size() - 1).c_str());
    if (rc == GIT_ENOTFOUND) return nullptr;
    revs_check(rc, "cannot read " + quote(prefix) + " in a git tree");
    RevsTreeEntry entry(raw);
    if (git_tree_entry_type(raw) != GIT_OBJECT_TREE) return nullptr;
    revs_check(git_tree_lookup(&out, r, git_tree_entry_id(raw)), "cannot read a git tree");
    return RevsTree(out);
}

RevsTree revs_tree(git_repository* r, const git_oid* id) {
    git_tree* out = nullptr;
    revs_check(git_tree_lookup(&out, r, id), "cannot read git tree " + revs_oid_hex(id));
    return RevsTree(out);
}

std::string revs_blob_text(git_repository* r, const git_oid* id, const std::string& what) {
    git_blob* raw = nullptr;
    revs_check(git_blob_lookup(&raw, r, id), "cannot read " + quote(what));
    RevsBlob blob(raw);
    return std::string(static_cast<const char*>(git_blob_rawcontent(raw)),
                       size_t(git_blob_rawsize(raw)));
}

// What a directory of a revision holds for mlo, chosen as find_pointers chooses in the
// workspace: pointer files (regular files only), mlo.lock at the top, and the subdirectories
// to walk into (not .mlo or .git at the top, not a directory tracked as a whole).
struct RevsListing {
    std::vector<const git_tree_entry*> pointers;
    std::vector<const git_tree_entry*> subtrees;
    const git_tree_entry* lock = nullptr;
};

RevsListing revs_list(const git_tree* tree, bool top) {
    RevsListing out;
    std::set<std::string> tracked;
    const size_t n = git_tree_entrycount(tree);
    for (size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(tree, i);
        git_filemode_t mode = git_tree_entry_filemode(e);
        if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) continue;
        std::string name = git_tree_entry_name(e);
        if (is_pointer_name(name) && !is_temp_name(name)) {
            out.pointers.push_back(e);
            tracked.insert(name.substr(0, name.size() - kPointerSuffix.size()));
        } else if (top && name == kLockFile) {
            out.lock = e;
        }
    }
    for (size_t i = 0; i < n; ++i) {
        const git_tree_entry* e = git_tree_entry_byindex(tree, i);
        if (git_tree_entry_filemode(e) != GIT_FILEMODE_TREE) continue;
        std::string name = git_tree_entry_name(e);
        if (tracked.count(name)) continue;
        if (top && (name == kDotMlo || name == ".git")) continue;
        out.subtrees.push_back(e);
    }
    return out;
}

// read_pointer reads a file and checks its `path` against the file's own name, so a pointer
// file from git goes through a temporary file of the same name: the same parser, the same
// messages. (A parser taking text would spare the file; pointer.hpp has none yet.)
class RevsPointerParser {
public:
    RevsPointerParser() = default;
    RevsPointerParser(const RevsPointerParser&) = delete;
    RevsPointerParser& operator=(const RevsPointerParser&) = delete;
    ~RevsPointerParser() {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }

    Pointer parse(const std::string& text, const std::string& filename, const std::string& rel,
                  const std::string& display) {
        if (dir_.empty()) {
            std::error_code ec;
            fs::path base = fs::temp_directory_path(ec);
            if (ec) base = "/tmp";
            std::string tmpl = (base / "mlo-git-pointers-XXXXXX").string();
            if (!::mkdtemp(tmpl.data()))
                throw_errno("cannot create a temporary directory in " + quote(base));
            dir_ = tmpl;
        }
        fs::path file = dir_ / filename;
        write_file_atomic(file, text);
        Pointer p = read_pointer(file, rel, display);
        std::error_code ec;
        fs::remove(file, ec);
        return p;
    }

private:
    fs::path dir_;
};

// Every "sha256:<64 hex>" in a file that did not parse, so that gc keeps what it may name.
std::vector<std::string> revs_scan_ids(const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while ((pos = text.find("sha256:", pos)) != std::string::npos) {
        pos += 7;
        if (text.size() - pos < 64) break;
        std::string hex = text.substr(pos, 64);
        if (digest_from_hex(hex)) out.push_back(hex);
    }
    return out;
}

class RevsHistoryScan {
public:
    RevsHistoryScan(git_repository* r, std::string prefix) : repo_(r), prefix_(std::move(prefix)) {}

    void commit(const git_oid* id) {
        check_interrupted();
        result.commits++;
        git_commit* raw = nullptr;
        revs_check(git_commit_lookup(&raw, repo_, id), "cannot read commit " + revs_oid_hex(id));
        RevsCommit c(raw);
        const git_oid* root_id = git_commit_tree_id(raw);
        if (!git_roots_.insert(revs_oid_key(root_id)).second) return;
        commit_ = revs_oid_hex(id).substr(0, 10);
        RevsTree root = revs_tree(repo_, root_id);
        RevsTree top = revs_mlo_tree(repo_, root.get(), prefix_);
        if (!top || !mlo_roots_.insert(revs_oid_key(git_tree_id(top.get()))).second) return;
        walk(top.get(), "", true);
    }

    HistoryReferences result;

private:
    void walk(const git_tree* tree, const std::string& rel_dir, bool top) {
        RevsListing l = revs_list(tree, top);
        for (const git_tree_entry* e : l.pointers)
            pointer(e, rel_dir);
        if (l.lock) lock(l.lock);
        for (const git_tree_entry* e : l.subtrees) {
            if (!subtrees_.insert(revs_oid_key(git_tree_entry_id(e))).second) continue;
            RevsTree sub = revs_tree(repo_, git_tree_entry_id(e));
            walk(sub.get(), rel_dir + git_tree_entry_name(e) + "/", false);
        }
    }

    void pointer(const git_tree_entry* e, const std::string& rel_dir) {
        std::string filename = git_tree_entry_name(e);
        // The parse depends on the file's name too (`path` must match it).
        if (!pointer_blobs_.insert(revs_oid_key(git_tree_entry_id(e)) + filename).second) return;
        std::string rel = rel_dir + filename.substr(0, filename.size() - kPointerSuffix.size());
        std::string shown = commit_ + ":" + prefix_ + rel_dir + filename;
        std::string text = revs_blob_text(repo_, git_tree_entry_id(e), shown);
        try {
            Pointer p = parser_.parse(text, filename, rel, shown);
            add(to_hex(p.digest), p.is_dir ? HistoryObject::Kind::dir : HistoryObject::Kind::file,
                rel);
        } catch (const Error& err) {
            result.warnings.push_back(err.what());
            for (const auto& id : revs_scan_ids(text))
                add(id, HistoryObject::Kind::unknown, rel);
        }
    }

    void lock(const git_tree_entry* e) {
        if (!lock_blobs_.insert(revs_oid_key(git_tree_entry_id(e))).second) return;
        std::string shown = commit_ + ":" + prefix_ + kLockFile;
        std::string text = revs_blob_text(repo_, git_tree_entry_id(e), shown);
        try {
            LockFile lf = LockFile::parse(text, shown);
            for (const auto& [stage, entry] : lf.stages) {
                for (const auto* list : {&entry.deps, &entry.outs}) {
                    for (const auto& lp : *list)
                        add(to_hex(lp.snap.digest),
                            lp.snap.is_dir ? HistoryObject::Kind::dir : HistoryObject::Kind::file,
                            lp.path);
                }
            }
        } catch (const Error& err) {
            result.warnings.push_back(err.what());
            for (const auto& id : revs_scan_ids(text))
                add(id, HistoryObject::Kind::unknown, kLockFile);
        }
    }

    void add(const std::string& id, HistoryObject::Kind kind, const std::string& rel) {
        auto [it, fresh] = index_.emplace(id, result.objects.size());
        if (fresh) {
            result.objects.push_back({id, kind, rel + " at " + commit_});
        } else if (result.objects[it->second].kind == HistoryObject::Kind::unknown) {
            result.objects[it->second].kind = kind;
        }
    }

    git_repository* repo_;
    std::string prefix_;
    std::string commit_;  // the commit being walked, abbreviated
    // Raw ids: commits' root trees, the mlo repository's trees, trees below it, pointer files
    // (with their names), lock files.
    std::unordered_set<std::string> git_roots_, mlo_roots_, subtrees_, pointer_blobs_, lock_blobs_;
    std::unordered_map<std::string, size_t> index_;  // object id -> position in result.objects
    RevsPointerParser parser_;
};

void revs_push_ref(git_revwalk* walk, git_reference* ref) {
    git_object* c = nullptr;
    // A ref that does not lead to a commit (a tag of a blob, a dangling symbolic ref) names no
    // data.
    if (git_reference_peel(&c, ref, GIT_OBJECT_COMMIT) != 0) return;
    RevsObject owned(c);
    revs_check(git_revwalk_push(walk, git_object_id(c)), "cannot walk the git history");
}

std::optional<Manifest> revs_manifest(Repository& repo, const Digest& d) {
    std::string text;
    if (!read_file_if_exists(repo.store().path_of(d), text)) return std::nullopt;
    return Manifest::parse(text, to_hex(d));
}

FileChange revs_whole_change(const Pointer* before, const Pointer* after) {
    FileChange c;
    c.path = (before ? before : after)->rel;
    c.kind = !before ? ChangeKind::added : !after ? ChangeKind::deleted : ChangeKind::modified;
    if (before) {
        c.old_digest = before->digest;
        c.old_size = before->size;
    }
    if (after) {
        c.new_digest = after->digest;
        c.new_size = after->size;
    }
    return c;
}

// Merges two manifests (either may be absent: the directory was added or deleted) into file
// changes below `rel`, within what each side's selection covers.
void revs_manifest_changes(std::vector<FileChange>& out, const std::string& rel,
                           const Selection* bsel, const Manifest* before, const Selection* asel,
                           const Manifest* after) {
    static const std::vector<ManifestEntry> none;
    const auto& be = before ? before->entries() : none;
    const auto& ae = after ? after->entries() : none;
    size_t i = 0, j = 0;
    while (i < be.size() || j < ae.size()) {
        if (i < be.size() && !bsel->covers(be[i].path)) {
            ++i;
            continue;
        }
        if (j < ae.size() && !asel->covers(ae[j].path)) {
            ++j;
            continue;
        }
        int cmp = i == be.size() ? 1 : j == ae.size() ? -1 : be[i].path.compare(ae[j].path);
        FileChange c;
        if (cmp <= 0) {
            c.path = rel + "/" + be[i].path;
            c.old_digest = be[i].digest;
            c.old_size = be[i].size;
            c.old_executable = be[i].executable;
        }
        if (cmp >= 0) {
            c.path = rel + "/" + ae[j].path;
            c.new_digest = ae[j].digest;
            c.new_size = ae[j].size;
            c.new_executable = ae[j].executable;
        }
        if (cmp < 0) {
            c.kind = ChangeKind::deleted;
            ++i;
        } else if (cmp > 0) {
            c.kind = ChangeKind::added;
            ++j;
        } else {
            c.kind = ChangeKind::modified;
            bool same = be[i].digest == ae[j].digest && be[i].executable == ae[j].executable;
            ++i;
            ++j;
            if (same) continue;
        }
        out.push_back(std::move(c));
    }
}

}  // namespace

std::optional<std::string> resolve_commit(const Repository& repo, const std::string& rev) {
    RevsGit g = revs_open(repo);
    auto c = revs_lookup_commit(g.repo.get(), rev);
    if (!c) return std::nullopt;
    return revs_oid_hex(git_commit_id(c->get()));
}

Revision read_revision(const Repository& repo, const std::string& rev) {
    RevsGit g = revs_open(repo);
    git_repository* r = g.repo.get();
    auto commit = revs_lookup_commit(r, rev);
    if (!commit) throw Error(quote(rev) + " is not a git revision (no commit by that name)");
    Revision out;
    out.rev = rev;
    out.commit = revs_oid_hex(git_commit_id(commit->get()));
    RevsTree root = revs_tree(r, git_commit_tree_id(commit->get()));
    RevsTree top = revs_mlo_tree(r, root.get(), g.prefix);
    if (!top) return out;
    RevsPointerParser parser;
    std::vector<std::pair<RevsTree, std::string>> stack;
    stack.emplace_back(std::move(top), "");
    while (!stack.empty()) {
        auto [tree, rel_dir] = std::move(stack.back());
        stack.pop_back();
        RevsListing l = revs_list(tree.get(), rel_dir.empty());
        for (const git_tree_entry* e : l.pointers) {
            std::string filename = git_tree_entry_name(e);
            std::string rel = rel_dir + filename.substr(0, filename.size() - kPointerSuffix.size());
            std::string shown = rev + ":" + rel_dir + filename;
            std::string text = revs_blob_text(r, git_tree_entry_id(e), shown);
            Pointer p = parser.parse(text, filename, rel, shown);
            p.file = pointer_file_for(repo.abs(rel));
            out.pointers.push_back(std::move(p));
        }
        if (l.lock) {
            std::string shown = rev + ":" + kLockFile;
            out.lock = LockFile::parse(revs_blob_text(r, git_tree_entry_id(l.lock), shown), shown);
        }
        for (const git_tree_entry* e : l.subtrees)
            stack.emplace_back(revs_tree(r, git_tree_entry_id(e)),
                               rel_dir + git_tree_entry_name(e) + "/");
    }
    std::sort(out.pointers.begin(), out.pointers.end(),
              [](const Pointer& a, const Pointer& b) { return a.rel < b.rel; });
    return out;
}

HistoryReferences history_references(const Repository& repo) {
    RevsGit g = revs_open(repo);
    git_repository* r = g.repo.get();
    git_revwalk* walk_raw = nullptr;
    revs_check(git_revwalk_new(&walk_raw, r), "cannot walk the git history");
    RevsWalk walk(walk_raw);
    git_revwalk_sorting(walk_raw, GIT_SORT_NONE);

    git_reference_iterator* it_raw = nullptr;
    revs_check(git_reference_iterator_new(&it_raw, r), "cannot list the git refs");
    RevsRefIter it(it_raw);
    git_reference* ref_raw = nullptr;
    int rc;
    while ((rc = git_reference_next(&ref_raw, it_raw)) == 0) {
        RevsRef ref(ref_raw);
        revs_push_ref(walk_raw, ref_raw);
    }
    if (rc != GIT_ITEROVER) revs_check(rc, "cannot list the git refs");
    if (git_repository_head(&ref_raw, r) == 0) {  // fails when HEAD is unborn: nothing to walk
        RevsRef ref(ref_raw);
        revs_push_ref(walk_raw, ref_raw);
    }
    // A linked worktree's HEAD may be a detached commit no ref names.
    git_strarray names{};
    if (git_worktree_list(&names, r) == 0) {
        for (size_t i = 0; i < names.count; ++i) {
            git_worktree* wt_raw = nullptr;
            if (git_worktree_lookup(&wt_raw, r, names.strings[i]) != 0) continue;
            RevsWorktree wt(wt_raw);
            git_repository* wr_raw = nullptr;
            if (git_repository_open_from_worktree(&wr_raw, wt_raw) != 0) continue;
            RevsRepo wr(wr_raw);
            if (git_repository_head(&ref_raw, wr_raw) != 0) continue;
            RevsRef ref(ref_raw);
            revs_push_ref(walk_raw, ref_raw);
        }
        git_strarray_dispose(&names);
    }

    RevsHistoryScan scan(r, g.prefix);
    git_oid id;
    while ((rc = git_revwalk_next(&id, walk_raw)) == 0)
        scan.commit(&id);
    if (rc != GIT_ITEROVER) revs_check(rc, "cannot walk the git history");
    return std::move(scan.result);
}

std::vector<FileChange> compare_pointers(Repository& repo, const std::vector<Selection>& before,
                                         const std::vector<Selection>& after) {
    // Paired by tracked path and the part selected.
    std::map<std::pair<std::string, std::string>, std::pair<const Selection*, const Selection*>>
        pairs;
    for (const auto& s : before)
        pairs[{s.ptr.rel, s.sub}].first = &s;
    for (const auto& s : after)
        pairs[{s.ptr.rel, s.sub}].second = &s;
    std::vector<FileChange> out;
    for (const auto& [key, sides] : pairs) {
        check_interrupted();
        const Selection* b = sides.first;
        const Selection* a = sides.second;
        const Pointer* bp = b ? &b->ptr : nullptr;
        const Pointer* ap = a ? &a->ptr : nullptr;
        if (bp && ap && bp->digest == ap->digest && bp->is_dir == ap->is_dir) continue;
        const bool dirs = (!bp || bp->is_dir) && (!ap || ap->is_dir);
        if (!dirs) {
            out.push_back(revs_whole_change(bp, ap));
            continue;
        }
        std::optional<Manifest> bm, am;
        if (bp) bm = revs_manifest(repo, bp->digest);
        if (ap) am = revs_manifest(repo, ap->digest);
        if ((bp && !bm) || (ap && !am)) {
            out.push_back(revs_whole_change(bp, ap));
            continue;
        }
        revs_manifest_changes(out, key.first, b, bm ? &*bm : nullptr, a, am ? &*am : nullptr);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const FileChange& x, const FileChange& y) { return x.path < y.path; });
    // Two arguments may select overlapping parts of one directory.
    out.erase(
        std::unique(out.begin(), out.end(),
                    [](const FileChange& x, const FileChange& y) { return x.path == y.path; }),
        out.end());
    return out;
}

}  // namespace mlo::core
