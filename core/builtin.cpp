#include "core/builtin.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/lockfile.hpp"
#include "core/metrics.hpp"
#include "core/pipeline.hpp"
#include "core/registry.hpp"
#include "core/repository.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

const std::set<std::string> kLearners = {"logistic_regression", "linear_regression"};
const std::set<std::string> kLearnerKeys = {"learner",  "data", "target",       "features", "l2",
                                            "max_iter", "tol",  "class_weight", "seed"};
const std::set<std::string> kEvaluateKeys = {"evaluate", "data"};
// Options a stage parameter may set (by the last component of its key).
const std::set<std::string> kParamOptions = {"target", "features",     "l2",  "max_iter",
                                             "tol",    "class_weight", "seed"};

std::string shown_value(const nlohmann::json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// A number, or a string holding one (a value interpolated into a longer string).
std::optional<double> as_number(const nlohmann::json& v) {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
    }
    return std::nullopt;
}

std::optional<std::string> option_problem(const std::string& key, const nlohmann::json& v) {
    auto num = as_number(v);
    if (key == "learner") {
        if (!v.is_string() || !kLearners.count(v.get<std::string>()))
            return "'learner' must be 'logistic_regression' or 'linear_regression', not " +
                   shown_value(v);
    } else if (key == "data" || key == "evaluate") {
        if (!v.is_string() || v.get<std::string>().empty())
            return quote(key) + " must be a path, not " + shown_value(v);
    } else if (key == "target") {
        if (!v.is_string() || v.get<std::string>().empty())
            return "'target' must be a column name, not " + shown_value(v);
    } else if (key == "features") {
        bool ok = v.is_array() && !v.empty();
        if (ok)
            for (const auto& f : v)
                ok = ok && f.is_string() && !f.get<std::string>().empty();
        if (!ok) return "'features' must be a non-empty list of column names";
    } else if (key == "l2") {
        if (!num || *num < 0) return "'l2' must be a number >= 0, not " + shown_value(v);
    } else if (key == "max_iter") {
        if (!num || *num < 1 || *num != std::floor(*num) || *num > 1e9)
            return "'max_iter' must be a positive integer, not " + shown_value(v);
    } else if (key == "tol") {
        if (!num || *num <= 0) return "'tol' must be a positive number, not " + shown_value(v);
    } else if (key == "class_weight") {
        if (!v.is_null() && !(v.is_string() && (v.get<std::string>() == "balanced" ||
                                                v.get<std::string>() == "none")))
            return "'class_weight' must be 'balanced' or 'none', not " + shown_value(v);
    } else if (key == "seed") {
        if (!num || *num < 0 || *num != std::floor(*num) || *num > 9007199254740992.0)
            return "'seed' must be a non-negative integer, not " + shown_value(v);
    }
    return std::nullopt;
}

std::string last_component(const std::string& key) {
    size_t cut = key.find_last_of(".:");
    return cut == std::string::npos ? key : key.substr(cut + 1);
}

const char* self_exe() {
    static const std::string path = [] {
        std::error_code ec;
        fs::path p = fs::read_symlink("/proc/self/exe", ec);
        return ec ? std::string("mlo") : p.string();
    }();
    return path.c_str();
}

std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f s", s);
    return buf;
}

std::string format_metric(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
}

}  // namespace

bool is_learner_spec(const nlohmann::json& spec) {
    return spec.is_object() && spec.contains("learner");
}

std::optional<std::pair<std::string, std::string>> check_builtin_spec(const nlohmann::json& spec) {
    if (!spec.is_object()) return std::make_pair(std::string(), std::string("must be a mapping"));
    bool learner = spec.contains("learner"), evaluate = spec.contains("evaluate");
    if (learner && evaluate)
        return std::make_pair(
            std::string("evaluate"),
            std::string("a built-in stage has 'learner' or 'evaluate', not both"));
    if (!learner && !evaluate)
        return std::make_pair(std::string(),
                              std::string("needs 'learner' (logistic_regression or "
                                          "linear_regression) or 'evaluate' (a model file)"));
    const auto& keys = learner ? kLearnerKeys : kEvaluateKeys;
    for (auto it = spec.begin(); it != spec.end(); ++it) {
        if (!keys.count(it.key())) {
            std::string known;
            for (const auto& k : keys)
                known += (known.empty() ? "" : ", ") + k;
            return std::make_pair(it.key(), "unknown key " + quote(it.key()) + " for a built-in " +
                                                (learner ? "learner" : "evaluation") +
                                                " (known: " + known + ")");
        }
        if (auto why = option_problem(it.key(), it.value())) return std::make_pair(it.key(), *why);
    }
    if (!spec.contains("data"))
        return std::make_pair(std::string(), std::string("needs 'data' (a CSV file)"));
    if (learner && !spec.contains("target"))
        return std::make_pair(std::string(), std::string("needs 'target' (the column to predict)"));
    return std::nullopt;
}

TrainOptions train_options_from(const nlohmann::json& opts, const std::string& what) {
    for (auto it = opts.begin(); it != opts.end(); ++it) {
        if (auto why = option_problem(it.key(), it.value())) throw Error(what + ": " + *why);
    }
    TrainOptions o;
    o.learner = opts.value("learner", "");
    o.target = opts.value("target", "");
    if (opts.contains("features"))
        for (const auto& f : opts["features"])
            o.features.push_back(f.get<std::string>());
    if (opts.contains("l2")) o.l2 = *as_number(opts["l2"]);
    if (opts.contains("max_iter")) o.max_iter = int(*as_number(opts["max_iter"]));
    if (opts.contains("tol")) o.tol = *as_number(opts["tol"]);
    if (opts.contains("class_weight"))
        o.balanced = opts["class_weight"].is_string() && opts["class_weight"] == "balanced";
    if (opts.contains("seed")) o.seed = uint64_t(*as_number(opts["seed"]));
    if (o.learner == "logistic_regression" && !(o.l2 > 0))
        throw Error(what + ": 'l2' must be > 0 for logistic_regression");
    return o;
}

nlohmann::json builtin_job(const Repository& repo, const Pipeline& p, const Stage& s,
                           const std::vector<LockedPath>& deps) {
    const nlohmann::json& spec = s.builtin;
    auto resolve = [&](const std::string& path) {
        fs::path rel = fs::path(s.wdir) / path;
        return generic(rel.lexically_normal());
    };
    auto object_of = [&](const std::string& rel) -> std::string {
        for (const auto& d : deps)
            if (d.path == rel && d.snap.exists) return to_hex(d.snap.digest);
        return "";
    };
    nlohmann::json job;
    job["repo"] = repo.root().string();
    job["stage"] = s.name;
    std::string data = resolve(spec["data"].get<std::string>());
    job["data"] = data;
    if (is_learner_spec(spec)) {
        nlohmann::json opts = spec;
        opts.erase("data");
        // Parameters named like an option set it, unless the mapping does.
        nlohmann::json values = p.values_for(s);
        for (auto it = values.begin(); it != values.end(); ++it) {
            std::string opt = last_component(it.key());
            if (kParamOptions.count(opt) && !spec.contains(opt)) opts[opt] = it.value();
        }
        job["kind"] = "learner";
        job["options"] = opts;
        job["data_object"] = object_of(data);
        for (const auto& o : s.outs)
            if (!o.metric) job["model"] = o.path;
    } else {
        job["kind"] = "evaluate";
        job["model"] = resolve(spec["evaluate"].get<std::string>());
        for (const auto& o : s.outs)
            if (o.metric) job["metrics"] = o.path;
    }
    return job;
}

std::string builtin_command_line(const nlohmann::json& job) {
    return shell_quote(self_exe()) + " __builtin " + shell_quote(job.dump());
}

nlohmann::json evaluate_model(const Model& model, const Table& table, const std::string& shown) {
    Predictions pred = predict(model, table, shown);
    nlohmann::json out;
    if (model.is_classifier()) {
        std::vector<int> y = target_classes(model, table, shown);
        out = to_json(classification_metrics(y, pred.proba, model.classes.size(), model.classes));
    } else {
        std::vector<double> y = target_values(model, table, shown);
        out = to_json(regression_metrics(y, pred.values));
    }
    out["rows"] = table.rows;
    return out;
}

void run_builtin_job(const nlohmann::json& job, std::ostream& out) {
    const fs::path root = job.at("repo").get<std::string>();
    const std::string stage = job.value("stage", "");
    const std::string data = job.at("data").get<std::string>();
    const std::string kind = job.at("kind").get<std::string>();
    auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    if (kind == "learner") {
        TrainOptions o = train_options_from(job.at("options"), "stage " + quote(stage));
        o.data_path = data;
        o.data_object = job.value("data_object", "");
        if (!job.contains("model")) throw Error("stage " + quote(stage) + " has no model output");
        const std::string model_path = job["model"].get<std::string>();
        Table t = read_csv(root / data, data);
        out << "read " << data << ": " << t.rows << " rows, " << t.columns.size() << " columns in "
            << format_seconds(seconds()) << '\n'
            << std::flush;
        auto t1 = std::chrono::steady_clock::now();
        TrainReport rep;
        Model m = train(t, o, data, &rep);
        double train_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        out << o.learner << ": " << m.features.size() << " features, " << m.design_width()
            << " design columns";
        if (m.is_classifier()) out << ", " << m.classes.size() << " classes";
        out << '\n';
        if (m.is_classifier()) {
            out << "L-BFGS " << (rep.converged ? "converged" : "did NOT converge") << " after "
                << rep.iterations << " iterations (loss " << format_metric(rep.loss)
                << ", gradient " << rep.gradient_norm << ") in " << format_seconds(train_s) << '\n';
            if (!rep.converged)
                out << "warning: raise max_iter (now " << o.max_iter
                    << ") or l2 for a converged model\n";
        } else {
            out << "solved in " << format_seconds(train_s) << '\n';
        }
        const fs::path target = root / model_path;
        make_dirs(target.parent_path());
        write_file_atomic(target, model_to_json(m).dump(1) + "\n");
        out << "wrote " << model_path << '\n';
    } else if (kind == "evaluate") {
        const std::string model_path = job.at("model").get<std::string>();
        if (!job.contains("metrics"))
            throw Error("stage " + quote(stage) + " has no metrics output");
        const std::string metrics_path = job["metrics"].get<std::string>();
        Model m = load_model(root / model_path, model_path);
        Table t = read_csv(root / data, data, csv_options_for(m));
        nlohmann::json metrics = evaluate_model(m, t, data);
        const fs::path target = root / metrics_path;
        make_dirs(target.parent_path());
        write_file_atomic(target, metrics.dump(2) + "\n");
        for (const char* k : {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss",
                              "rmse", "mae", "r2"}) {
            if (metrics.contains(k)) out << k << " = " << format_metric(metrics[k]) << '\n';
        }
        out << "wrote " << metrics_path << " (" << t.rows << " rows)\n";
    } else {
        throw Error("unknown built-in job kind " + quote(kind));
    }
}

ModelSource locate_model(const std::string& arg, Repository* repo) {
    ModelSource src;
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) {
        src.file = arg;
        src.shown = arg;
        return src;
    }
    auto ref = parse_model_ref(arg);
    if (!ref) throw Error("no model file " + quote(arg) + ", and it is not a model reference");
    if (!repo)
        throw Error("no model file " + quote(arg) +
                    ", and the model reference needs an mlo repository");
    ModelVersion v;
    try {
        Registry reg(repo->db());
        v = reg.resolve(*ref);
    } catch (const Error& e) {
        if (fs::exists(arg, ec)) throw Error(quote(arg) + " is not a model file");
        throw;
    }
    src.name = v.name;
    src.version = v.version;
    src.shown = v.name + ":" + std::to_string(v.version);
    if (v.is_dir)
        throw Error("model " + src.shown + " is a directory, not a model file mlo can load");
    src.file = repo->store().path_of(v.object);
    if (!repo->store().contains(v.object))
        throw Error("model " + src.shown + " (object " + to_hex(v.object).substr(0, 12) +
                    ") is not in the object store (pull it, or check 'mlo fsck')");
    return src;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

}  // namespace mlo::core
