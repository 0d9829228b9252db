#include "core/references.hpp"

#include "storage/manifest.hpp"

namespace mlo::core {

References collect_references(Repository& repo, const std::vector<Pointer>& pointers) {
    References refs;
    for (const auto& p : pointers) {
        refs.objects.emplace(to_hex(p.digest), p.rel);
        if (!p.is_dir) continue;
        std::string text;
        if (!read_file_if_exists(repo.store().path_of(p.digest), text)) {
            refs.unknown.push_back(&p);
            continue;
        }
        Manifest m = Manifest::parse(text, to_hex(p.digest));
        for (const auto& e : m.entries())
            refs.objects.emplace(to_hex(e.digest), p.rel + "/" + e.path);
    }
    return refs;
}

}  // namespace mlo::core
