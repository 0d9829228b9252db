#include "core/fsck.hpp"

#include <mutex>

#include "core/references.hpp"
#include "core/workspace.hpp"
#include "storage/error.hpp"
#include "storage/parallel.hpp"

namespace mlo::core {

FsckResult fsck(Repository& repo, Progress* progress, const std::function<void(long)>& on_wait) {
    auto lock = repo.lock_workspace(on_wait);
    FsckResult result;
    std::vector<ObjectStore::Listed> objects;
    repo.store().list([&](const ObjectStore::Listed& l) {
        if (l.digest)
            objects.push_back(l);
        else if (!l.temporary)
            result.stray.push_back(l.name);
    });
    if (progress) progress->start("verifying", objects.size());
    std::mutex mu;
    fs::path quarantine = repo.dot_mlo() / "quarantine";
    parallel_for(objects.size(), repo.jobs(), [&](size_t i) {
        const auto& l = objects[i];
        Fd fd = open_read(l.path);
        Digest actual = sha256_fd(fd.get(), nullptr, "cannot read " + quote(l.path));
        if (progress) progress->advance();
        if (actual == *l.digest) return;
        make_dirs(quarantine);
        std::string base = to_hex(*l.digest);
        fs::path dest = quarantine / base;
        for (int n = 1; fs::exists(dest); ++n)
            dest = quarantine / (base + "." + std::to_string(n));
        if (::rename(l.path.c_str(), dest.c_str()) != 0)
            throw_errno("cannot move " + quote(l.path) + " to quarantine");
        std::lock_guard<std::mutex> guard(mu);
        result.corrupt.push_back({base, to_hex(actual), dest});
    });
    result.checked = objects.size();

    std::vector<Pointer> pointers = find_pointers(repo);
    References refs = collect_references(repo, pointers);
    for (const auto& [id, used_by] : refs.objects) {
        auto d = digest_from_hex(id);
        if (d && !repo.store().contains(*d)) result.missing.push_back({id, used_by});
    }
    std::sort(result.corrupt.begin(), result.corrupt.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return result;
}

}  // namespace mlo::core
