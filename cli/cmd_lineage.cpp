// mlo lineage PATH|OBJECT-ID|MODEL-REF: which runs, on which code and parameters, from which
// inputs, produced an artifact.

#include <cctype>

#include "cli/commands.hpp"
#include "core/pointer.hpp"
#include "core/registry.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

bool all_hex(const std::string& s) {
    for (char c : s) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return !s.empty();
}

std::string lower(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string git_short(const core::GitState& g) {
    if (!g.in_git) return "";
    std::string s = g.commit.empty() ? "no commit" : g.commit.substr(0, 8);
    if (g.dirty) s += "-dirty";
    return s;
}

std::string params_text(const nlohmann::json& params) {
    std::string s;
    for (const auto& [k, v] : params.items()) {
        if (!s.empty()) s += ' ';
        s += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    return s;
}

std::string describe(const core::LineageNode& n) {
    const core::Artifact& a = n.artifact;
    std::string s = (a.path.empty() ? std::string("(unnamed)") : a.path) + (a.is_dir ? "/" : "") +
                    "  sha256:" + short_hash(a.digest);
    if (!n.producer) return s + "  (raw data: no run wrote it)";
    const core::Run& r = *n.producer;
    s += "  (written by run " + r.id.substr(0, 12) + "  ";
    s += r.stage.empty() ? std::string("command") : "stage " + r.stage;
    s += std::string(", ") + core::run_status_name(r.status);
    if (r.git.in_git) s += ", git " + git_short(r.git);
    if (n.repeated) s += "; its lineage is shown above";
    return s + ")";
}

// One line per artifact, its producer's parameters and inputs below it.
void print_tree(std::ostream& out, const core::LineageNode& n, const std::string& prefix) {
    bool has_params = n.producer && !n.repeated && !n.producer->params.empty();
    size_t children = n.inputs.size() + (has_params ? 1 : 0);
    size_t i = 0;
    for (const auto& in : n.inputs) {
        bool last = ++i == children;
        out << prefix << (last ? "└── " : "├── ") << describe(in) << '\n';
        print_tree(out, in, prefix + (last ? "    " : "│   "));
    }
    if (has_params) out << prefix << "└── params: " << params_text(n.producer->params) << '\n';
}

nlohmann::json node_json(const core::LineageNode& n) {
    const core::Artifact& a = n.artifact;
    nlohmann::json j = {{"path", a.path},
                        {"hash", "sha256:" + to_hex(a.digest)},
                        {"size", a.size},
                        {"kind", a.is_dir ? "dir" : "file"}};
    if (n.producer) {
        const core::Run& r = *n.producer;
        j["run"] = {
            {"id", r.id},
            {"stage", r.stage},
            {"status", core::run_status_name(r.status)},
            {"started_ns", r.started_ns},
            {"git_commit", r.git.in_git && !r.git.commit.empty() ? nlohmann::json(r.git.commit)
                                                                 : nlohmann::json(nullptr)},
            {"git_dirty", r.git.dirty},
            {"params", r.params}};
    } else {
        j["run"] = nullptr;
    }
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& in : n.inputs)
        inputs.push_back(node_json(in));
    j["inputs"] = inputs;
    j["repeated"] = n.repeated;
    return j;
}

class Lineage : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("target", target_,
                       "A tracked or recorded path, an object id (64 hex digits, "
                       "'sha256:<hex>', or a unique prefix of at least 8 digits), or a registered "
                       "model version (NAME:VERSION, NAME@ALIAS, or NAME for the latest). A path "
                       "that exists (or has a pointer file) wins over a model reference, and a "
                       "registered model's NAME wins over an object id or a recorded path")
            ->required()
            ->type_name("PATH|OBJECT-ID|MODEL-REF");
        app.add_option("--depth", depth_, "Follow at most this many levels of inputs")
            ->type_name("N");
    }

    int run(Context& ctx) override {
        core::Repository& repo = ctx.repo();
        core::RunStore runs(repo.db());
        core::Artifact root = resolve(repo, runs);
        core::LineageNode tree = core::lineage_of(runs, root, depth_);
        if (ctx.g.json) {
            ctx.emit(node_json(tree));
            return 0;
        }
        ctx.out() << describe(tree) << '\n';
        print_tree(ctx.out(), tree, "");
        return 0;
    }

private:
    [[noreturn]] void unknown() const {
        throw Error("no run wrote " + quote(target_) + " and it is not tracked");
    }

    core::Artifact by_digest(core::RunStore& runs, const Digest& d) const {
        auto a = runs.artifact_with(d);
        if (!a) unknown();
        return *a;
    }

    // An object id: "sha256:<hex>", 64 hex digits, or a prefix of at least 8 of a recorded one.
    std::optional<core::Artifact> as_object(core::Repository& repo, core::RunStore& runs) const {
        std::string hex = target_;
        bool explicit_id = hex.rfind("sha256:", 0) == 0;
        if (explicit_id) hex.erase(0, 7);
        hex = lower(hex);
        if (!all_hex(hex) || hex.size() < 8 || hex.size() > 64) {
            if (explicit_id) throw Error("not an object id: " + quote(target_));
            return std::nullopt;
        }
        // A file of that name in the workspace wins over an id that is not spelled out.
        if (!explicit_id) {
            std::error_code ec;
            if (fs::exists(repo.resolve_arg(target_), ec)) return std::nullopt;
        }
        if (hex.size() == 64) return by_digest(runs, *digest_from_hex(hex));
        auto found = runs.digests_with_prefix(hex, 2);
        if (found.size() > 1) throw Error("object id prefix " + quote(target_) + " is ambiguous");
        if (found.empty()) unknown();
        return by_digest(runs, found.front());
    }

    // A registry reference, unless a path of that name exists or has a pointer file. A bare NAME
    // is a model only when such a model is registered (else it is a path or an object id).
    std::optional<core::Artifact> as_model(core::Repository& repo) const {
        auto ref = core::parse_model_ref(target_);
        if (!ref) return std::nullopt;
        try {
            fs::path abs = repo.resolve_arg(target_);
            std::error_code ec;
            if (fs::exists(fs::symlink_status(abs, ec)) ||
                fs::exists(core::pointer_file_for(abs), ec))
                return std::nullopt;
        } catch (const Error&) {
            // Not a usable path at all: a reference it is.
        }
        core::Registry registry(repo.db());
        if (!ref->version && ref->alias.empty() && !registry.has_model(ref->name))
            return std::nullopt;
        try {
            core::ModelVersion v = registry.resolve(*ref);
            return core::Artifact{v.source_path, v.object, v.size, v.is_dir};
        } catch (const Error& e) {
            throw Error("cannot show the lineage of " + quote(target_) + ": " + e.what());
        }
    }

    core::Artifact resolve(core::Repository& repo, core::RunStore& runs) const {
        if (auto a = as_model(repo)) return *a;
        if (auto a = as_object(repo, runs)) return *a;
        fs::path abs = repo.resolve_arg(target_);
        std::string rel = repo.rel(abs);
        // 1. A pointer file names the tracked version.
        fs::path pointer = core::pointer_file_for(abs);
        std::error_code ec;
        if (fs::is_regular_file(pointer, ec)) {
            core::Pointer p = core::read_pointer(pointer, rel, repo.rel(pointer));
            return {rel, p.digest, p.size, p.is_dir};
        }
        // 2. The version the newest run wrote (or read) at this path.
        if (auto a = runs.artifact_at(rel)) return *a;
        // 3. The file as it is now, if some run wrote or read exactly these bytes elsewhere.
        if (fs::is_regular_file(abs, ec)) {
            Fd fd = open_read(abs);
            uint64_t size = 0;
            Digest d = sha256_fd(fd.get(), &size, "cannot read " + quote(rel));
            if (runs.artifact_with(d)) return {rel, d, size, false};
        }
        unknown();
    }

    std::string target_;
    size_t depth_ = 64;
};

}  // namespace

std::unique_ptr<Command> make_lineage() {
    return std::make_unique<Lineage>();
}

}  // namespace mlo::cli
