// mlo predict MODEL --data in.csv [--out out.csv] [--proba]: batch scoring with a built-in
// model, given as a file or a registry reference (NAME, NAME:VERSION, NAME@ALIAS).
//
// The output is CSV, one row per input row in input order: a column named like the model's
// target holding the prediction (the class name, or the value for regression) and, with
// --proba, one column "proba_<class>" per class.

#include <charconv>
#include <chrono>
#include <iostream>

#include "cli/commands.hpp"
#include "core/builtin.hpp"
#include "core/learner.hpp"
#include "storage/atomic_file.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

// RFC 4180: quoted when it holds a delimiter, quote or line break, or surrounding spaces.
void append_field(std::string& out, const std::string& v) {
    bool needs = v.find_first_of(",\"\r\n") != std::string::npos ||
                 (!v.empty() && (v.front() == ' ' || v.back() == ' '));
    if (!needs) {
        out += v;
        return;
    }
    out += '"';
    for (char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

void append_number(std::string& out, double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

class Predict : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_option("model", model_, "Model file, or NAME, NAME:VERSION, NAME@ALIAS")
            ->required();
        app.add_option("-d,--data", data_, "CSV file to score")->required();
        app.add_option("-o,--out", out_, "Write the predictions here (default: stdout)");
        app.add_flag("--proba", proba_, "Add one probability column per class (classifiers)");
    }

    int run(Context& ctx) override {
        auto t0 = std::chrono::steady_clock::now();
        std::optional<core::Repository> repo;
        if (auto root = core::Repository::find_root(fs::current_path()))
            repo.emplace(core::Repository::open(*root));
        core::ModelSource src = core::locate_model(model_, repo ? &*repo : nullptr);
        core::Model m = core::load_model(src.file, src.shown);
        if (proba_ && !m.is_classifier())
            throw Error("--proba: model " + quote(src.shown) + " is a regression model");
        core::Table t = core::read_csv(data_, data_, core::csv_options_for(m));
        core::Predictions p = core::predict(m, t, data_);

        std::string text;
        text.reserve(p.rows * (proba_ ? 12 + 20 * m.classes.size() : 20) + 64);
        append_field(text, m.target);
        if (proba_)
            for (const auto& c : m.classes) {
                text += ',';
                append_field(text, "proba_" + c);
            }
        text += '\n';
        const size_t k = m.classes.size();
        for (size_t i = 0; i < p.rows; ++i) {
            if (m.is_classifier()) {
                append_field(text, m.classes[size_t(p.labels[i])]);
                if (proba_)
                    for (size_t c = 0; c < k; ++c) {
                        text += ',';
                        append_number(text, p.proba[i * k + c]);
                    }
            } else {
                append_number(text, p.values[i]);
            }
            text += '\n';
        }
        if (out_.empty()) {
            ctx.out() << text;
        } else {
            write_file_atomic(out_, text);
        }
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!out_.empty()) {
            if (ctx.g.json) {
                nlohmann::json j = {{"model", src.shown},
                                    {"data", data_},
                                    {"out", out_},
                                    {"rows", p.rows},
                                    {"seconds", secs}};
                if (!src.name.empty()) {
                    j["name"] = src.name;
                    j["version"] = src.version;
                }
                ctx.emit(j);
            } else {
                ctx.note("wrote " + std::to_string(p.rows) + " predictions to " + quote(out_));
            }
        }
        return 0;
    }

private:
    std::string model_, data_, out_;
    bool proba_ = false;
};

}  // namespace

std::unique_ptr<Command> make_predict() {
    return std::make_unique<Predict>();
}

}  // namespace mlo::cli
