#include "core/lockfile.hpp"

#include <yaml-cpp/yaml.h>

#include <cctype>

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

// mlo.lock is rewritten after every stage, so it is written by hand: yaml-cpp's emitter spends
// most of its time deciding how to quote each string (quadratic in a 200-stage pipeline).
// Strings that could read as anything but themselves are written as JSON strings, which are
// valid YAML double-quoted scalars.
bool plain_safe(const std::string& v) {
    if (v.empty() || v.size() > 200) return false;
    for (char ch : v) {
        unsigned char u = static_cast<unsigned char>(ch);
        if (!(std::isalnum(u) || ch == '_' || ch == '.' || ch == '/' || ch == '-' || ch == '@' ||
              ch == '+'))
            return false;
    }
    if (v[0] == '-' || v[0] == '.' || v[0] == '@') return false;
    // Would read back as a number, a boolean or null.
    return yaml_to_json(YAML::Node(v)).is_string();
}

void put_string(std::string& out, const std::string& v) {
    if (plain_safe(v))
        out += v;
    else
        out += nlohmann::json(v).dump();
}

void put_json(std::string& out, const nlohmann::json& j) {
    if (j.is_string()) {
        out += j.dump();  // always quoted: reads back as a string
    } else {
        out += j.dump();  // numbers, booleans, null, and lists/maps in JSON flow style
    }
}

void emit_paths(std::string& out, const char* key, const std::vector<LockedPath>& paths) {
    if (paths.empty()) return;
    out += "    ";
    out += key;
    out += ":\n";
    for (const auto& p : paths) {
        out += "      - path: ";
        put_string(out, p.path);
        out += "\n        hash: sha256:" + to_hex(p.snap.digest);
        out += "\n        size: " + std::to_string(p.snap.size) + "\n";
        if (p.snap.is_dir)
            out += "        kind: dir\n        files: " + std::to_string(p.snap.files) + "\n";
    }
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
    std::string out = "schema: ";
    out += kSchema;
    out += "\nstages:\n";
    for (const auto& [name, e] : stages) {
        out += "  ";
        put_string(out, name);
        out += ":\n    cmd: ";
        put_string(out, e.cmd);
        out += "\n";
        emit_paths(out, "deps", e.deps);
        if (!e.params.empty()) {
            out += "    params:\n";
            for (const auto& [file, values] : e.params) {
                out += "      ";
                put_string(out, file);
                out += ":\n";
                for (const auto& [key, value] : values) {
                    out += "        ";
                    put_string(out, key);
                    out += ": ";
                    put_json(out, value);
                    out += "\n";
                }
            }
        }
        emit_paths(out, "outs", e.outs);
    }
    return out;
}

void LockFile::save(const Repository& repo, Sync sync) const {
    write_file_atomic(repo.root() / kLockFile, serialize(), sync);
}

}  // namespace mlo::core
