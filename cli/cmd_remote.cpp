// mlo remote add NAME URL [--default] [--endpoint URL] [--region R] [--profile P] [--path-style]
// mlo remote list | remove NAME | default NAME
// Remotes live in .mlo/config.yaml (committed, so clones share them); credentials never do.

#include "cli/commands.hpp"
#include "core/remotes.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

class RemoteCmd : public Command {
public:
    void setup(CLI::App& app) override {
        app.require_subcommand(0, 1);
        add_ = app.add_subcommand("add", "Add a remote: a directory or s3://bucket/prefix");
        add_->add_option("name", spec_.name, "Name of the remote (e.g. origin)")->required();
        add_->add_option("url", spec_.url, "A directory, or s3://bucket[/prefix]")->required();
        add_->add_flag("-d,--default", make_default_, "Use it when no -r NAME is given");
        add_->add_option("--endpoint", spec_.endpoint,
                         "S3: the service URL (MinIO, Ceph, a local server); default AWS");
        add_->add_option("--region", spec_.region, "S3: the region (default from the profile)");
        add_->add_option("--profile", spec_.profile,
                         "S3: the profile in ~/.aws/credentials and ~/.aws/config to use");
        add_->add_flag("--path-style", spec_.path_style,
                       "S3: address buckets as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT");
        list_ = app.add_subcommand("list", "List remotes (the default is marked)");
        remove_ = app.add_subcommand("remove", "Remove a remote from the configuration");
        remove_->add_option("name", name_, "Name of the remote")->required();
        default_ = app.add_subcommand("default", "Make a remote the default");
        default_->add_option("name", name_, "Name of the remote")->required();
    }

    int run(Context& ctx) override {
        const fs::path file = ctx.repo().dot_mlo() / "config.yaml";
        if (add_->parsed()) {
            core::add_remote(file, spec_, make_default_);
            if (ctx.g.json)
                ctx.emit({{"added", spec_.name}, {"url", spec_.url}, {"default", make_default_}});
            else
                ctx.note("added remote " + spec_.name + " (" + spec_.url + ")" +
                         (make_default_ ? ", the default" : ""));
            return 0;
        }
        if (remove_->parsed()) {
            core::remove_remote(file, name_);
            if (ctx.g.json)
                ctx.emit({{"removed", name_}});
            else
                ctx.note("removed remote " + name_ + " (objects on it are untouched)");
            return 0;
        }
        if (default_->parsed()) {
            core::set_default_remote(file, name_);
            if (ctx.g.json) ctx.emit({{"default", name_}});
            return 0;
        }
        const core::Config config = core::Config::load(file);
        if (ctx.g.json) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& r : config.remotes) {
                nlohmann::json j = {
                    {"name", r.name}, {"url", r.url}, {"default", r.name == config.default_remote}};
                if (!r.endpoint.empty()) j["endpoint"] = r.endpoint;
                if (!r.region.empty()) j["region"] = r.region;
                if (!r.profile.empty()) j["profile"] = r.profile;
                if (r.path_style) j["path_style"] = true;
                a.push_back(j);
            }
            ctx.emit(a);
            return 0;
        }
        if (config.remotes.empty()) {
            ctx.note("no remotes (add one with 'mlo remote add NAME URL --default')");
            return 0;
        }
        std::vector<std::vector<std::string>> rows = {{"NAME", "URL", "DEFAULT", "OPTIONS"}};
        for (const auto& r : config.remotes) {
            std::string opts;
            auto put = [&](const std::string& k, const std::string& v) {
                if (!v.empty()) opts += (opts.empty() ? "" : " ") + k + "=" + v;
            };
            put("endpoint", r.endpoint);
            put("region", r.region);
            put("profile", r.profile);
            if (r.path_style) put("path_style", "true");
            rows.push_back({r.name, r.url, r.name == config.default_remote ? "*" : "", opts});
        }
        print_table(ctx.out(), rows);
        return 0;
    }

private:
    CLI::App *add_ = nullptr, *list_ = nullptr, *remove_ = nullptr, *default_ = nullptr;
    RemoteSpec spec_;
    bool make_default_ = false;
    std::string name_;
};

}  // namespace

std::unique_ptr<Command> make_remote() {
    return std::make_unique<RemoteCmd>();
}

}  // namespace mlo::cli
