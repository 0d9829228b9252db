#include "core/lockfile.hpp"

#include <yaml-cpp/yaml.h>

#include "core/yaml_util.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

constexpr const char* kSchema = "mlo-lock 1";

std::vector<LockedPath> parse_paths(const YAML::Node& list, const fs::path& file,
                                    const std::string& what) {
    std::vector<LockedPath> out;
    if (!list) return out;
    if (!list.IsSequence()) yaml_fail(file, list, quote(what) + " must be a list");
    for (const auto& item : list) {
        expect_map(item, file, "an entry of " + quote(what));
        LockedPath lp;
        lp.path = scalar(item["path"], file, "path");
        std::string hash = scalar(item["hash"], file, "hash");
        auto d = hash.rfind("sha256:", 0) == 0 ? digest_from_hex(hash.substr(7)) : std::nullopt;
        if (!d) yaml_fail(file, item["hash"], "'hash' must be sha256:<64 hex digits>");
        lp.snap.exists = true;
        lp.snap.digest = *d;
        lp.snap.size = as_uint(item["size"], file, "size");
        if (item["kind"]) {
            std::string kind = scalar(item["kind"], file, "kind");
            if (kind != "dir" && kind != "file")
                yaml_fail(file, item["kind"], "'kind' must be 'dir' or 'file'");
            lp.snap.is_dir = kind == "dir";
        }
        if (item["files"]) lp.snap.files = as_uint(item["files"], file, "files");
        out.push_back(std::move(lp));
    }
    return out;
}

void emit_paths(YAML::Emitter& out, const char* key, const std::vector<LockedPath>& paths) {
    if (paths.empty()) return;
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const auto& p : paths) {
        out << YAML::BeginMap;
        out << YAML::Key << "path" << YAML::Value << p.path;
        out << YAML::Key << "hash" << YAML::Value << ("sha256:" + to_hex(p.snap.digest));
        out << YAML::Key << "size" << YAML::Value << p.snap.size;
        if (p.snap.is_dir) {
            out << YAML::Key << "kind" << YAML::Value << "dir";
            out << YAML::Key << "files" << YAML::Value << p.snap.files;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
}

}  // namespace

LockFile LockFile::parse(const std::string& text, const std::string& shown) {
    LockFile lock;
    const fs::path file = shown;
    YAML::Node root = parse_yaml(text, file);
    if (!root || root.IsNull()) return lock;
    expect_map(root, file, "mlo.lock");
    if (root["schema"]) {
        std::string schema = scalar(root["schema"], file, "schema");
        if (schema != kSchema)
            yaml_fail(file, root["schema"],
                      "unknown lock format " + quote(schema) + " (this mlo reads " +
                          quote(kSchema) + ")");
    }
    YAML::Node stages = root["stages"];
    if (!stages) return lock;
    expect_map(stages, file, "'stages'");
    for (const auto& kv : stages) {
        const std::string name = kv.first.Scalar();
        const YAML::Node& s = kv.second;
        expect_map(s, file, "stage " + quote(name));
        LockEntry e;
        if (s["cmd"]) e.cmd = scalar(s["cmd"], file, "cmd");
        e.deps = parse_paths(s["deps"], file, "deps");
        e.outs = parse_paths(s["outs"], file, "outs");
        if (YAML::Node params = s["params"]) {
            expect_map(params, file, "'params'");
            for (const auto& pf : params) {
                expect_map(pf.second, file, "parameters of " + quote(pf.first.Scalar()));
                for (const auto& kvp : pf.second)
                    e.params[pf.first.Scalar()][kvp.first.Scalar()] = yaml_to_json(kvp.second);
            }
        }
        lock.stages[name] = std::move(e);
    }
    return lock;
}

LockFile LockFile::load(const Repository& repo) {
    std::string text;
    if (!read_file_if_exists(repo.root() / kLockFile, text)) return {};
    return parse(text, kLockFile);
}

std::string LockFile::serialize() const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "schema" << YAML::Value << kSchema;
    out << YAML::Key << "stages" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, e] : stages) {
        out << YAML::Key << name << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "cmd" << YAML::Value << e.cmd;
        emit_paths(out, "deps", e.deps);
        if (!e.params.empty()) {
            out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
            for (const auto& [file, values] : e.params) {
                out << YAML::Key << file << YAML::Value << YAML::BeginMap;
                for (const auto& [key, value] : values) {
                    out << YAML::Key << key << YAML::Value;
                    emit_json(out, value);
                }
                out << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        emit_paths(out, "outs", e.outs);
        out << YAML::EndMap;
    }
    out << YAML::EndMap << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

void LockFile::save(const Repository& repo) const {
    write_file_atomic(repo.root() / kLockFile, serialize(),
                      repo.config().fsync ? Sync::yes : Sync::no);
}

}  // namespace mlo::core
