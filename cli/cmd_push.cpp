// mlo push|pull|fetch [PATH…|--all] [-r NAME] [-j N]: objects and run/registry records through a
// remote (core/sync). A summary line always; progress on a terminal. Anything that could not be
// transferred (not in the sending side's store, or never verified) is an error after the rest
// went through, so scripts see exit 2.

#include <csignal>

#include "cli/commands.hpp"
#include "core/checkout.hpp"
#include "core/remotes.hpp"
#include "core/sync.hpp"
#include "storage/error.hpp"

namespace mlo::cli {

namespace {

enum class Direction { push, pull, fetch };

std::string plural(uint64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// "3 objects ... : a (…), b (…), c (…)", at most five named.
std::string listed(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size() && i < 5; ++i)
        out += (i ? ", " : "") + items[i];
    if (items.size() > 5) out += ", …";
    return out;
}

class Transfer : public Command {
public:
    explicit Transfer(Direction d) : dir_(d) {}

    void setup(CLI::App& app) override {
        add_paths_option(app, paths_, "Only these tracked paths (default: everything in use)");
        app.add_flag("-a,--all", all_,
                     dir_ == Direction::push ? "Every object in the local store"
                                             : "Every object on the remote");
        app.add_option("-r,--remote", remote_, "The remote (default: the default remote)");
        app.add_option("-j,--jobs", jobs_,
                       "Parallel transfers (default: 16 for S3, cores for a "
                       "directory)");
        if (dir_ == Direction::push)
            app.add_flag("--refresh", refresh_,
                         "List the remote instead of trusting what this repository recorded "
                         "about it (after a 'gc --remote' elsewhere)");
        if (dir_ == Direction::pull)
            app.add_flag("-f,--force", force_,
                         "Overwrite local changes that are not in the store when checking out");
    }

    int run(Context& ctx) override {
        if (all_ && !paths_.empty()) throw Error("give paths or --all, not both");
        // A server that closes a connection is an error to retry, not the end of the process.
        ::signal(SIGPIPE, SIG_IGN);
        core::Repository& repo = ctx.repo();
        const RemoteSpec& spec = core::find_remote(repo.config(), remote_);
        std::unique_ptr<Remote> remote = open_remote(spec, repo.root());
        core::SyncOptions o;
        o.paths = paths_;
        o.all = all_;
        o.jobs = jobs_;
        o.index_id = core::remote_index_id(spec);
        o.refresh = refresh_;
        core::Progress progress;
        o.progress = &progress;
        core::SyncResult r;
        {
            ProgressBar bar(ctx, progress);
            r = dir_ == Direction::push ? core::push(repo, *remote, o)
                                        : core::fetch(repo, *remote, o);
        }
        const bool up = dir_ == Direction::push;
        core::CheckoutResult co;
        bool checked_out = false;
        if (dir_ == Direction::pull && r.missing.empty() && r.corrupt.empty()) {
            core::CheckoutOptions copt;
            copt.force = force_ ? core::Force::yes : core::Force::no;
            copt.on_wait = ctx.on_wait();
            copt.progress = &progress;
            ProgressBar bar(ctx, progress);
            co = core::checkout(repo, core::select_tracked(repo, paths_), copt);
            checked_out = true;
        }
        if (ctx.g.json) {
            nlohmann::json j = {{"remote", spec.name},  {"url", remote->describe()},
                                {"objects", r.objects}, {"bytes", r.bytes},
                                {"present", r.present}, {"records", r.records},
                                {"missing", r.missing}, {"corrupt", r.corrupt}};
            if (!up)
                j["merged"] = {{"runs", r.merge.runs},
                               {"versions", r.merge.versions},
                               {"events", r.merge.events},
                               {"conflicts", r.merge.conflicts}};
            if (checked_out) j["restored"] = co.restored;
            ctx.emit(j);
        } else {
            for (const auto& c : r.merge.conflicts)
                ctx.note("conflict: " + c);
            if (!ctx.g.quiet) {
                ctx.out() << (up ? "pushed " : "fetched ") << plural(r.objects, "object") << " ("
                          << human_size(r.bytes) << ") and " << plural(r.records, "record")
                          << (up ? " to " : " from ") << spec.name << "; " << r.present
                          << (up ? " already there" : " already here");
                if (!up && (r.merge.runs || r.merge.versions || r.merge.events))
                    ctx.out() << "; added " << plural(r.merge.runs, "run") << ", "
                              << plural(r.merge.versions, "model version") << ", "
                              << plural(r.merge.events, "registry event");
                ctx.out() << '\n';
                if (checked_out)
                    ctx.out() << "restored " << plural(co.restored.size(), "file") << ", "
                              << co.unchanged << " unchanged\n";
            }
        }
        if (!r.corrupt.empty())
            throw Error(plural(r.corrupt.size(), "object") + " from " + quote(spec.name) +
                        (r.corrupt.size() == 1 ? " did not match its" : " did not match their") +
                        " hash after 3 attempts and " + (r.corrupt.size() == 1 ? "was" : "were") +
                        " not stored: " + listed(r.corrupt));
        if (!r.missing.empty())
            throw Error(plural(r.missing.size(), "object") +
                        (r.missing.size() == 1 ? " is" : " are") +
                        (up ? " not in the local store and not pushed: "
                            : " not on remote " + quote(spec.name) + ": ") +
                        listed(r.missing));
        return 0;
    }

private:
    Direction dir_;
    std::vector<std::string> paths_;
    bool all_ = false, force_ = false, refresh_ = false;
    std::string remote_;
    unsigned jobs_ = 0;
};

}  // namespace

std::unique_ptr<Command> make_push() {
    return std::make_unique<Transfer>(Direction::push);
}
std::unique_ptr<Command> make_pull() {
    return std::make_unique<Transfer>(Direction::pull);
}
std::unique_ptr<Command> make_fetch() {
    return std::make_unique<Transfer>(Direction::fetch);
}

}  // namespace mlo::cli
