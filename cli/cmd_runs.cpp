// mlo runs: the recorded runs, newest first, or one run in detail (--id).

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "cli/commands.hpp"
#include "core/runs.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

// null while a run has not ended.
nlohmann::json time_or_null(int64_t ns) {
    return ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(iso_utc(ns));
}

std::string duration(const core::Run& r) {
    if (r.ended_ns == 0 || r.ended_ns < r.started_ns) return "-";
    double s = double(r.ended_ns - r.started_ns) / 1e9;
    char buf[32];
    if (s < 10) {
        std::snprintf(buf, sizeof buf, "%.2fs", s);
    } else if (s < 60) {
        std::snprintf(buf, sizeof buf, "%.1fs", s);
    } else if (s < 3600) {
        long v = long(s);
        std::snprintf(buf, sizeof buf, "%ldm%02lds", v / 60, v % 60);
    } else {
        long v = long(s);
        std::snprintf(buf, sizeof buf, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    }
    return buf;
}

std::string git_short(const core::GitState& g) {
    if (!g.in_git) return "-";
    std::string s = g.commit.empty() ? "(no commit)" : g.commit.substr(0, 8);
    if (g.dirty) s += "-dirty";
    return s;
}

nlohmann::json artifacts_json(const std::vector<core::Artifact>& list) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : list) {
        a.push_back({{"path", x.path},
                     {"hash", "sha256:" + to_hex(x.digest)},
                     {"size", x.size},
                     {"kind", x.is_dir ? "dir" : "file"}});
    }
    return a;
}

nlohmann::json run_json(const core::Run& r) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [k, v] : r.metrics)
        metrics[k] = v;
    return {
        {"id", r.id},
        {"stage", r.stage},
        {"cmd", r.cmd},
        {"params", r.params},
        {"status", core::run_status_name(r.status)},
        {"exit_code", r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json(nullptr)},
        {"started", iso_utc(r.started_ns)},
        {"started_ns", r.started_ns},
        {"ended", time_or_null(r.ended_ns)},
        {"ended_ns", r.ended_ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.ended_ns)},
        {"host", r.host},
        {"user", r.user},
        {"git",
         {{"in_git", r.git.in_git},
          {"commit", r.git.commit.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.git.commit)},
          {"dirty", r.git.dirty},
          {"diff_hash",
           r.git.diff_hash.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.git.diff_hash)}}},
        {"cache_key", r.cache_key},
        {"log", r.log ? nlohmann::json("sha256:" + to_hex(*r.log)) : nlohmann::json(nullptr)},
        {"restored_from",
         r.restored_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.restored_from)},
        {"inputs", artifacts_json(r.inputs)},
        {"outputs", artifacts_json(r.outputs)},
        {"metrics", metrics}};
}

void print_detail(std::ostream& out, const core::Run& r) {
    auto field = [&](const char* name, const std::string& value) {
        std::string n = name;
        n.resize(14, ' ');
        out << n << value << '\n';
    };
    field("run", r.id);
    field("stage", r.stage.empty() ? "-" : r.stage);
    std::string status = core::run_status_name(r.status);
    if (r.exit_code) status += " (exit code " + std::to_string(*r.exit_code) + ")";
    field("status", status);
    field("command", r.cmd);
    field("started", local_time(r.started_ns));
    if (r.ended_ns) field("ended", local_time(r.ended_ns) + "  (took " + duration(r) + ")");
    field("host", r.host);
    field("user", r.user);
    if (!r.git.in_git) {
        field("git", "not a git work tree");
    } else {
        std::string g = r.git.commit.empty() ? "(no commit yet)" : r.git.commit;
        if (r.git.dirty) g += " + uncommitted changes (diff sha256:" + r.git.diff_hash + ")";
        field("git", g);
    }
    if (!r.cache_key.empty()) field("cache key", r.cache_key);
    if (r.log) field("log", "sha256:" + to_hex(*r.log));
    if (!r.restored_from.empty()) field("restored from", r.restored_from);
    if (!r.params.empty()) {
        out << "params\n";
        for (const auto& [k, v] : r.params.items())
            out << "  " << k << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << '\n';
    }
    auto artifacts = [&](const char* title, const std::vector<core::Artifact>& list) {
        if (list.empty()) return;
        out << title << '\n';
        for (const auto& a : list) {
            out << "  " << a.path << (a.is_dir ? "/" : "") << "  sha256:" << to_hex(a.digest)
                << "  " << human_size(a.size) << '\n';
        }
    };
    artifacts("inputs", r.inputs);
    artifacts("outputs", r.outputs);
    if (!r.metrics.empty()) {
        out << "metrics\n";
        for (const auto& [k, v] : r.metrics)
            out << "  " << k << " = " << short_number(v) << '\n';
    }
}

class Runs : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("--stage", stage_, "Only runs of this stage");
        app.add_option("-n", limit_, "Show at most N runs (newest first)")->type_name("N");
        app.add_option("--id", id_, "Show one run in detail (a unique prefix of its id is enough)")
            ->type_name("ID");
    }

    int run(Context& ctx) override {
        core::RunStore store(ctx.repo().db());
        // Runs whose process died without recording an end are shown as interrupted.
        store.reap_stale();
        if (!id_.empty()) {
            auto r = store.get(id_);
            if (!r) throw Error("no run " + quote(id_));
            if (ctx.g.json)
                ctx.emit(run_json(*r));
            else
                print_detail(ctx.out(), *r);
            return 0;
        }
        auto runs = store.list(stage_, limit_);
        if (ctx.g.json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& r : runs)
                a.push_back(run_json(r));
            ctx.emit(a);
            return 0;
        }
        if (runs.empty()) {
            ctx.note(stage_.empty() ? "no runs recorded yet" : "no runs of stage " + quote(stage_));
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        rows.push_back({"ID", "STAGE", "STATUS", "EXIT", "STARTED", "DURATION", "GIT", "METRICS"});
        for (const auto& r : runs) {
            std::string metrics;
            size_t shown = 0;
            for (const auto& [k, v] : r.metrics) {
                if (shown++ == 3) {
                    metrics += " ...";
                    break;
                }
                if (!metrics.empty()) metrics += ' ';
                metrics += k + "=" + short_number(v);
            }
            rows.push_back({r.id.substr(0, 12), r.stage.empty() ? "-" : r.stage,
                            core::run_status_name(r.status),
                            r.exit_code ? std::to_string(*r.exit_code) : "-",
                            local_time(r.started_ns), duration(r), git_short(r.git), metrics});
        }
        print_table(ctx.out(), rows);
        return 0;
    }

private:
    std::string stage_;
    size_t limit_ = 0;
    std::string id_;
};

}  // namespace

std::unique_ptr<Command> make_runs() {
    return std::make_unique<Runs>();
}

}  // namespace mlo::cli
