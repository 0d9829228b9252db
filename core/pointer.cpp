#include "core/pointer.hpp"

#include <yaml-cpp/yaml.h>

#include "core/yaml_util.hpp"
#include "storage/error.hpp"

namespace mlo::core {

fs::path Pointer::data_path() const {
    std::string f = file.native();
    return fs::path(f.substr(0, f.size() - kPointerSuffix.size()));
}

std::string Pointer::name() const {
    return data_path().filename().string();
}

fs::path pointer_file_for(const fs::path& data) {
    return fs::path(data.native() + std::string(kPointerSuffix));
}

bool is_pointer_name(std::string_view filename) {
    return filename.size() > kPointerSuffix.size() &&
           filename.substr(filename.size() - kPointerSuffix.size()) == kPointerSuffix;
}

Pointer read_pointer(const fs::path& file, const std::string& rel, const fs::path& display) {
    std::string text = read_file(file);
    YAML::Node root = parse_yaml(text, display);
    if (!root.IsMap())
        yaml_fail_at(display, 0, -1, "not a pointer file (expected keys path, hash, size)");
    Pointer p;
    p.file = file;
    p.rel = rel;
    bool has_path = false, has_hash = false, has_size = false, has_files = false;
    std::string kind = "file";
    YAML::Node kind_node;
    for (const auto& kv : root) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const YAML::Node& v = kv.second;
        if (key == "path") {
            std::string name = scalar(v, display, "path");
            if (name != p.name()) {
                yaml_fail(display, v,
                          "'path' is " + quote(name) + " but this pointer file is for " +
                              quote(p.name()));
            }
            has_path = true;
        } else if (key == "hash") {
            std::string h = scalar(v, display, "hash");
            std::optional<Digest> d;
            if (h.rfind("sha256:", 0) == 0) d = digest_from_hex(h.substr(7));
            if (!d)
                yaml_fail(display, v,
                          "'hash' must be 'sha256:' and 64 lowercase hex digits, not " + quote(h));
            p.digest = *d;
            has_hash = true;
        } else if (key == "size") {
            p.size = as_uint(v, display, "size");
            has_size = true;
        } else if (key == "kind") {
            kind = scalar(v, display, "kind");
            kind_node = v;
            if (kind != "file" && kind != "dir") {
                yaml_fail(display, v, "'kind' must be 'file' or 'dir', not " + quote(kind));
            }
        } else if (key == "files") {
            p.files = as_uint(v, display, "files");
            has_files = true;
        } else {
            yaml_fail(display, kv.first, "unknown key " + quote(key));
        }
    }
    p.is_dir = kind == "dir";
    const char* missing = !has_path ? "path" : !has_hash ? "hash" : !has_size ? "size" : nullptr;
    if (!missing && p.is_dir && !has_files) missing = "files";
    if (missing) yaml_fail_at(display, 0, -1, "missing key " + quote(missing));
    if (!p.is_dir && has_files) yaml_fail_at(display, 0, -1, "'files' is only for 'kind: dir'");
    return p;
}

std::string pointer_text(const Pointer& p) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << p.name();
    out << YAML::Key << "hash" << YAML::Value << ("sha256:" + to_hex(p.digest));
    out << YAML::Key << "size" << YAML::Value << p.size;
    if (p.is_dir) {
        out << YAML::Key << "kind" << YAML::Value << "dir";
        out << YAML::Key << "files" << YAML::Value << p.files;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

void write_pointer(const Pointer& p, Sync sync) {
    write_file_atomic(p.file, pointer_text(p), sync);
}

}  // namespace mlo::core
