#include <system_error>

#include "cli/commands.hpp"
#include "core/dag.hpp"
#include "core/pipeline.hpp"
#include "core/pointer.hpp"

namespace mlo::cli {

namespace {

class DagCmd : public Command {
public:
    void setup(CLI::App& app) override {
        app.add_flag("--dot", dot_, "Print the graph in Graphviz dot format");
    }
    int run(Context& ctx) override {
        core::Repository& repo = ctx.repo();
        core::Pipeline p = core::load_pipeline(repo);
        auto exists = [&repo](const std::string& rel) {
            std::error_code ec;
            fs::path abs = repo.abs(rel);
            if (fs::symlink_status(abs, ec).type() != fs::file_type::not_found && !ec) return true;
            return fs::exists(core::pointer_file_for(abs), ec);
        };
        core::Dag d = core::build_dag(p, exists);

        if (ctx.g.json) {
            nlohmann::json stages = nlohmann::json::array();
            nlohmann::json edges = nlohmann::json::array();
            for (size_t i : d.order) {
                const core::Stage& s = p.stages[i];
                nlohmann::json deps = nlohmann::json::array(), outs = nlohmann::json::array(),
                               up = nlohmann::json::array();
                for (const auto& dep : s.deps)
                    deps.push_back(dep.path);
                for (const auto& o : s.outs)
                    outs.push_back(o.path);
                for (size_t u : d.upstream[i]) {
                    up.push_back(p.stages[u].name);
                    edges.push_back({p.stages[u].name, s.name});
                }
                nlohmann::json j = {{"name", s.name},
                                    {"cmd", s.cmd},
                                    {"deps", deps},
                                    {"outs", outs},
                                    {"upstream", up}};
                if (!s.builtin.is_null()) j["builtin"] = s.builtin;
                stages.push_back(j);
            }
            ctx.emit({{"stages", stages}, {"edges", edges}});
            return 0;
        }
        if (dot_) {
            ctx.out() << core::dag_to_dot(p, d);
            return 0;
        }
        for (size_t i : d.order) {
            ctx.out() << p.stages[i].name;
            const auto& up = d.upstream[i];
            for (size_t k = 0; k < up.size(); ++k)
                ctx.out() << (k == 0 ? " <- " : ", ") << p.stages[up[k]].name;
            ctx.out() << '\n';
        }
        return 0;
    }

private:
    bool dot_ = false;
};

}  // namespace

std::unique_ptr<Command> make_dag() {
    return std::make_unique<DagCmd>();
}

}  // namespace mlo::cli
