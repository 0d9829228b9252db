#include "core/serving.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/deployments.hpp"
#include "core/http_server.hpp"
#include "core/learner.hpp"
#include "core/prediction_log.hpp"
#include "core/runs.hpp"
#include "core/scoring.hpp"
#include "core/snapshot.hpp"
#include "core/workers.hpp"
#include "storage/error.hpp"

namespace mlo::core {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// One model version ready to score: immutable once built, shared by the requests using it.
struct Loaded {
    std::string name;
    int64_t version = 0;
    std::string variant;               // "primary" or "canary"
    std::optional<Model> model;        // built-in flavour
    std::unique_ptr<WorkerPool> pool;  // command flavour
    std::vector<std::string> features;
};
using LoadedPtr = std::shared_ptr<Loaded>;

class Slot {
public:
    LoadedPtr get() const {
        std::lock_guard<std::mutex> lock(mu_);
        return p_;
    }
    void set(LoadedPtr p) {
        LoadedPtr old;
        {
            std::lock_guard<std::mutex> lock(mu_);
            old = std::move(p_);
            p_ = std::move(p);
        }
        // `old` is released here, or by the last request still using it.
    }

private:
    mutable std::mutex mu_;
    LoadedPtr p_;
};

// Prometheus metrics.
class Metrics {
public:
    static constexpr double kBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    static constexpr size_t kBuckets = std::size(kBounds);

    // `endpoint` is a string literal (kept by pointer: no allocation per request).
    void request(std::string_view endpoint, int status, double seconds) {
        size_t b = 0;
        while (b < kBuckets && seconds > kBounds[b])
            ++b;
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_[{endpoint, status}];
        ++bucket_[b];
        ++count_;
        sum_ += seconds;
    }
    void rows(const std::string& variant, int64_t version, size_t n) {
        std::lock_guard<std::mutex> lock(mu_);
        rows_[{variant, version}] += n;
    }
    void switched() {
        std::lock_guard<std::mutex> lock(mu_);
        ++switches_;
    }

    std::string text(const std::string& deployment, const std::vector<LoadedPtr>& models,
                     uint64_t log_records, uint64_t log_errors, uint64_t worker_restarts) const {
        std::lock_guard<std::mutex> lock(mu_);
        std::string out;
        auto line = [&](const std::string& s) { out += s + "\n"; };
        line("# HELP mlo_requests_total Requests answered, by endpoint and HTTP status.");
        line("# TYPE mlo_requests_total counter");
        for (const auto& [k, n] : requests_)
            line("mlo_requests_total{endpoint=\"" + std::string(k.first) + "\",code=\"" +
                 std::to_string(k.second) + "\"} " + std::to_string(n));
        uint64_t errors = 0;
        for (const auto& [k, n] : requests_)
            if (k.second >= 400) errors += n;
        line("# HELP mlo_request_errors_total Requests answered with a 4xx or 5xx status.");
        line("# TYPE mlo_request_errors_total counter");
        line("mlo_request_errors_total " + std::to_string(errors));
        line("# HELP mlo_request_duration_seconds Time from reading a request to answering it.");
        line("# TYPE mlo_request_duration_seconds histogram");
        uint64_t cum = 0;
        for (size_t b = 0; b < kBuckets; ++b) {
            cum += bucket_[b];
            char le[32];
            std::snprintf(le, sizeof le, "%g", kBounds[b]);
            line("mlo_request_duration_seconds_bucket{le=\"" + std::string(le) + "\"} " +
                 std::to_string(cum));
        }
        cum += bucket_[kBuckets];
        line("mlo_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cum));
        char sum[64];
        std::snprintf(sum, sizeof sum, "%.9g", sum_);
        line("mlo_request_duration_seconds_sum " + std::string(sum));
        line("mlo_request_duration_seconds_count " + std::to_string(count_));
        line("# HELP mlo_rows_predicted_total Rows scored, by variant and model version.");
        line("# TYPE mlo_rows_predicted_total counter");
        for (const auto& [k, n] : rows_)
            line("mlo_rows_predicted_total{variant=\"" + k.first + "\",version=\"" +
                 std::to_string(k.second) + "\"} " + std::to_string(n));
        line("# HELP mlo_model_info The model version each variant serves now.");
        line("# TYPE mlo_model_info gauge");
        for (const auto& m : models)
            if (m)
                line("mlo_model_info{deployment=\"" + deployment + "\",model=\"" + m->name +
                     "\",version=\"" + std::to_string(m->version) + "\",variant=\"" + m->variant +
                     "\"} 1");
        line("# HELP mlo_model_switches_total Version switches since the server started.");
        line("# TYPE mlo_model_switches_total counter");
        line("mlo_model_switches_total " + std::to_string(switches_));
        line("# HELP mlo_prediction_log_records_total Records written to the prediction log.");
        line("# TYPE mlo_prediction_log_records_total counter");
        line("mlo_prediction_log_records_total " + std::to_string(log_records));
        line("# HELP mlo_prediction_log_errors_total Failed writes to the prediction log.");
        line("# TYPE mlo_prediction_log_errors_total counter");
        line("mlo_prediction_log_errors_total " + std::to_string(log_errors));
        line("# HELP mlo_worker_restarts_total Command-flavour workers replaced.");
        line("# TYPE mlo_worker_restarts_total counter");
        line("mlo_worker_restarts_total " + std::to_string(worker_restarts));
        return out;
    }

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string_view, int>, uint64_t> requests_;
    std::map<std::pair<std::string, int64_t>, uint64_t> rows_;
    uint64_t bucket_[kBuckets + 1] = {};
    uint64_t count_ = 0;
    double sum_ = 0;
    uint64_t switches_ = 0;
};

std::string json_text(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Whether a reference follows the registry (an alias, or the latest version) or is pinned.
bool follows(const ModelRef& ref) {
    return !ref.version.has_value();
}

LoadedPtr load_version(Repository& repo, const ModelVersion& v, const std::string& variant,
                       const ServeOptions& opt, const std::string& deployment_id) {
    auto out = std::make_shared<Loaded>();
    out->name = v.name;
    out->version = v.version;
    out->variant = variant;
    const std::string shown = v.name + ":" + std::to_string(v.version);
    if (!repo.store().contains(v.object))
        throw Error("model " + shown + " (object " + to_hex(v.object).substr(0, 12) +
                    ") is not in the object store (pull it, or check 'mlo fsck')");
    fs::path path = repo.store().path_of(v.object);
    if (opt.command.empty()) {
        if (v.is_dir)
            throw Error("model " + shown +
                        " is a directory; serve it with --command (the command flavour)");
        out->model = load_model(path, shown);
        for (const auto& f : out->model->features)
            out->features.push_back(f.name);
        return out;
    }
    if (v.is_dir) {
        // Workers get a directory of their own, restored from the store.
        std::string rel = std::string(kDotMlo) + "/tmp/deploy/" + deployment_id + "/" + variant +
                          "-v" + std::to_string(v.version);
        Snapshot s;
        s.exists = true;
        s.digest = v.object;
        s.size = v.size;
        s.is_dir = true;
        restore_path(repo, rel, s);
        path = repo.abs(rel);
    }
    std::map<std::string, std::string> env = {{"MLO_MODEL_PATH", path.string()},
                                              {"MLO_MODEL_NAME", v.name},
                                              {"MLO_MODEL_VERSION", std::to_string(v.version)},
                                              {"MLO_DEPLOYMENT", deployment_id}};
    out->pool =
        std::make_unique<WorkerPool>(opt.command, repo.root(), env, opt.workers, opt.timeout);
    return out;
}

std::string new_request_id() {
    // A generator per connection thread, seeded from the process's: no lock per request.
    thread_local std::mt19937_64 gen(random_u64());
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(gen()),
                  static_cast<unsigned long long>(gen() >> 32));
    return buf;
}

bool content_type_is(const std::string& ct, const char* want) {
    size_t n = std::strlen(want);
    if (ct.size() < n) return false;
    for (size_t i = 0; i < n; ++i)
        if (std::tolower(static_cast<unsigned char>(ct[i])) != want[i]) return false;
    return ct.size() == n || ct[n] == ';' || ct[n] == ' ';
}

json row_major(const RequestRows& rows) {
    json data = json::array();
    for (size_t r = 0; r < rows.rows; ++r) {
        json row = json::array();
        for (size_t c = 0; c < rows.columns.size(); ++c)
            row.push_back(rows.values[c][r]);
        data.push_back(std::move(row));
    }
    return data;
}

class Server {
public:
    Server(Repository& repo, const ServeOptions& opt) : repo_(repo), opt_(opt) {}

    void run(const std::function<bool()>& should_stop,
             const std::function<void(const ServeReady&)>& on_ready);

private:
    void handle(const HttpRequest& req, HttpResponse& res);
    const char* route(const HttpRequest& req, HttpResponse& res);
    bool authorized(const HttpRequest& req, HttpResponse& res);
    void fail(HttpResponse& res, int status, const std::string& message);
    void score(const HttpRequest& req, HttpResponse& res, Protocol protocol,
               std::string_view model_name);
    void version(HttpResponse& res);
    void model_metadata(HttpResponse& res, std::string_view name);
    void feedback(const HttpRequest& req, HttpResponse& res);
    LoadedPtr pick(bool* canary);
    void watch();
    std::atomic<bool> stopping_{false};  // the server is shutting down (watcher: stop too)

    Repository& repo_;
    ServeOptions opt_;
    std::string id_, name_;
    std::optional<ModelRef> ref_, canary_ref_;
    Slot primary_, canary_;
    std::atomic<uint64_t> counter_{0};
    uint64_t canary_bp_ = 0;  // canary share in basis points
    std::atomic<bool> ready_{false};
    Metrics metrics_;
    std::unique_ptr<PredictionLog> log_;
    std::mutex watch_mu_;
    std::condition_variable watch_cv_;
};

void Server::fail(HttpResponse& res, int status, const std::string& message) {
    res.set(status, error_body(status, message), "application/json");
}

bool Server::authorized(const HttpRequest& req, HttpResponse& res) {
    if (opt_.token.empty()) return true;
    std::string_view h = req.header("authorization");
    std::string want = "Bearer " + opt_.token;
    // Constant time in the token's length.
    bool ok = h.size() == want.size();
    unsigned char diff = 0;
    for (size_t i = 0; i < want.size(); ++i)
        diff |= static_cast<unsigned char>((i < h.size() ? h[i] : 0) ^ want[i]);
    ok = ok && diff == 0;
    if (!ok) {
        res.headers.emplace_back("WWW-Authenticate", "Bearer");
        fail(res, 401,
             h.empty() ? "missing token: send 'Authorization: Bearer <token>'" : "wrong token");
    }
    return ok;
}

LoadedPtr Server::pick(bool* canary) {
    *canary = false;
    if (canary_bp_ > 0) {
        // An exact split: request n goes to the canary when the running share crosses an
        // integer, so any 2,000 consecutive requests are within one of the percentage.
        uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
        if ((n + 1) * canary_bp_ / 10000 > n * canary_bp_ / 10000) {
            if (LoadedPtr c = canary_.get()) {
                *canary = true;
                return c;
            }
        }
    }
    return primary_.get();
}

void Server::score(const HttpRequest& req, HttpResponse& res, Protocol protocol,
                   std::string_view model_name) {
    std::string request_id(req.header("x-request-id"));
    if (request_id.empty() || request_id.size() > 128) request_id = new_request_id();
    res.headers.emplace_back("X-Request-ID", request_id);
    try {
        if (!authorized(req, res)) throw RequestError(401, "");
        if (!ready_) throw RequestError(503, "the model is not loaded yet");
        if (protocol == Protocol::v2) {
            LoadedPtr p = primary_.get();
            if (!p || (model_name != p->name && model_name != name_))
                throw RequestError(404, "unknown model '" + std::string(model_name) +
                                            "' (this server serves '" + (p ? p->name : name_) +
                                            "')");
        }
        std::string ct(req.header("content-type"));
        bool csv = content_type_is(ct, "text/csv");
        if (!csv && !content_type_is(ct, "application/json"))
            throw RequestError(415, "unsupported content type '" + ct + "': send application/json" +
                                        (protocol == Protocol::mlflow ? " or text/csv" : ""));
        if (csv && protocol == Protocol::v2)
            throw RequestError(415, "the V2 protocol takes application/json");
        bool is_canary = false;
        LoadedPtr m = pick(&is_canary);
        if (!m) throw RequestError(503, "no model is loaded");

        RequestRows rows;
        std::string body;
        std::string predictions;  // JSON text, for the log
        if (m->model) {
            Table t = csv ? table_from_csv(*m->model, req.body, rows)
                          : table_for_model(*m->model, rows = parse_json_request(req.body, protocol,
                                                                                 m->features));
            Predictions p = predict(*m->model, t, "the request", 1);
            body = protocol == Protocol::v2 ? v2_response(*m->model, p, m->name, m->version,
                                                          rows.id.empty() ? request_id : rows.id)
                                            : mlflow_response(*m->model, p, rows.want_proba);
            predictions = predictions_json(*m->model, p);
        } else {
            rows = csv ? parse_csv_request(req.body)
                       : parse_json_request(req.body, protocol, m->features);
            json answer = m->pool->predict(request_id, rows.columns, row_major(rows), rows.rows);
            body = protocol == Protocol::v2 ? v2_response(answer, m->name, m->version,
                                                          rows.id.empty() ? request_id : rows.id)
                                            : mlflow_response(answer);
            predictions = json_text(answer);
        }
        // The record is queued before the answer leaves: a client that got an answer has
        // its request in the log (close() writes the queue out on shutdown).
        std::string record = "{\"type\":\"prediction\",\"request_id\":" + json_text(request_id) +
                             ",\"time\":\"" + iso_utc(now_ns()) + "\",\"deployment\":\"" + id_ +
                             "\",\"model\":" + json_text(m->name) +
                             ",\"version\":" + std::to_string(m->version) + ",\"variant\":\"" +
                             m->variant + "\",\"columns\":" + json_text(rows.columns) +
                             ",\"inputs\":";
        append_rows_json(record, rows);
        record += ",\"predictions\":";
        record += predictions;
        record += '}';
        log_->add(std::move(record));
        metrics_.rows(m->variant, m->version, rows.rows);
        res.headers.emplace_back("X-Model-Version", std::to_string(m->version));
        res.set(200, std::move(body), "application/json");
    } catch (const RequestError& e) {
        if (e.status() != 401) fail(res, e.status(), e.what());
    } catch (const Error& e) {
        fail(res, 422, e.what());
    } catch (const std::exception& e) {
        fail(res, 500, e.what());
    }
}

void Server::version(HttpResponse& res) {
    LoadedPtr p = primary_.get(), c = canary_.get();
    json j = {{"deployment", id_},
              {"name", name_},
              {"model", p ? json(p->name) : json(nullptr)},
              {"version", p ? json(p->version) : json(nullptr)},
              {"ref", opt_.model},
              {"flavor", opt_.command.empty() ? "builtin" : "command"},
              {"canary", nullptr},
              {"mlo", opt_.mlo_version}};
    if (c)
        j["canary"] = {{"model", c->name},
                       {"version", c->version},
                       {"ref", opt_.canary},
                       {"percent", opt_.canary_percent}};
    res.set(200, json_text(j), "application/json");
}

void Server::model_metadata(HttpResponse& res, std::string_view name) {
    LoadedPtr p = primary_.get();
    if (!p || (name != p->name && name != name_))
        return fail(res, 404, "unknown model '" + std::string(name) + "'");
    json inputs = json::array();
    if (p->model)
        for (const auto& f : p->model->features)
            inputs.push_back({{"name", f.name},
                              {"datatype", f.type == ColumnType::categorical ? "BYTES" : "FP64"},
                              {"shape", {-1}}});
    json outputs = json::array({{{"name", "predictions"}, {"shape", {-1}}}});
    if (p->model && p->model->is_classifier())
        outputs.push_back({{"name", "probabilities"},
                           {"datatype", "FP64"},
                           {"shape", {-1, int64_t(p->model->classes.size())}}});
    json j = {{"name", p->name},
              {"versions", {std::to_string(p->version)}},
              {"platform", opt_.command.empty() ? "mlo-builtin" : "mlo-command"},
              {"inputs", inputs},
              {"outputs", outputs}};
    res.set(200, json_text(j), "application/json");
}

void Server::feedback(const HttpRequest& req, HttpResponse& res) {
    if (!content_type_is(std::string(req.header("content-type")), "application/json"))
        return fail(res, 415, "send feedback as application/json");
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(res, 400, "the feedback body must be a JSON object");
    auto id = j.find("request_id");
    if (id == j.end() || !id->is_string() || id->get<std::string>().empty())
        return fail(res, 400, "feedback needs a 'request_id' string");
    bool one = j.contains("label"), many = j.contains("labels");
    if (one == many)
        return fail(res, 400, "feedback needs 'label' (one row) or 'labels' (a list, one per row)");
    if (many && !j["labels"].is_array()) return fail(res, 400, "'labels' must be a list");
    json labels = many ? j["labels"] : json::array({j["label"]});
    log_->add("{\"type\":\"feedback\",\"request_id\":" + json_text(*id) + ",\"time\":\"" +
              iso_utc(now_ns()) + "\",\"deployment\":\"" + id_ +
              "\",\"labels\":" + json_text(labels) + "}");
    res.set(202, "{\"status\":\"recorded\"}", "application/json");
}

// Dispatches a request; returns the endpoint's name for the metrics.
const char* Server::route(const HttpRequest& req, HttpResponse& res) {
    const std::string& path = req.path;
    bool get = req.method == "GET" || req.method == "HEAD", post = req.method == "POST";
    auto wrong_method = [&](const char* allow, const char* endpoint) {
        res.headers.emplace_back("Allow", allow);
        fail(res, 405, req.method + " is not allowed on " + path + " (use " + allow + ")");
        return endpoint;
    };
    auto not_ready = [&] {
        if (ready_) return false;
        fail(res, 503, "the model is not loaded yet");
        return true;
    };
    // Health checks carry no token (load balancers and probes rarely can).
    if (path == "/invocations") {
        if (!post) return wrong_method("POST", "invocations");
        score(req, res, Protocol::mlflow, {});
        return "invocations";
    }
    if (path == "/ping" || path == "/health") {
        const char* endpoint = path == "/ping" ? "ping" : "health";
        if (!get) return wrong_method("GET", endpoint);
        if (!not_ready()) res.set(200, "\n", "text/plain");
        return endpoint;
    }
    if (path == "/v2/health/live") {
        if (!get) return wrong_method("GET", "live");
        res.set(200, "{\"live\":true}", "application/json");
        return "live";
    }
    if (path == "/v2/health/ready") {
        if (!get) return wrong_method("GET", "ready");
        if (!not_ready()) res.set(200, "{\"ready\":true}", "application/json");
        return "ready";
    }
    if (path == "/version") {
        if (!get) return wrong_method("GET", "version");
        if (authorized(req, res)) version(res);
        return "version";
    }
    if (path == "/metrics") {
        if (!get) return wrong_method("GET", "metrics");
        if (!authorized(req, res)) return "metrics";
        uint64_t restarts = 0;
        LoadedPtr p = primary_.get(), c = canary_.get();
        for (const auto& m : {p, c})
            if (m && m->pool) restarts += m->pool->restarts();
        res.set(200,
                metrics_.text(id_, {p, c}, log_->records_written(), log_->write_errors(), restarts),
                "text/plain; version=0.0.4");
        return "metrics";
    }
    if (path == "/feedback") {
        if (!post) return wrong_method("POST", "feedback");
        if (authorized(req, res)) feedback(req, res);
        return "feedback";
    }
    // /v2/models/{name}, /v2/models/{name}/infer, /v2/models/{name}/versions/{v}/infer
    constexpr std::string_view models = "/v2/models/";
    if (path.compare(0, models.size(), models) == 0) {
        std::string_view rest = std::string_view(path).substr(models.size());
        size_t slash = rest.find('/');
        std::string_view name = rest.substr(0, slash);
        std::string_view tail = slash == std::string_view::npos ? "" : rest.substr(slash);
        bool infer = tail == "/infer";
        if (!infer && tail.substr(0, 10) == "/versions/") {
            std::string_view v = tail.substr(10);
            size_t s2 = v.find('/');
            infer = s2 != std::string_view::npos && s2 > 0 && v.substr(s2) == "/infer";
        }
        if (!name.empty() && infer) {
            if (!post) return wrong_method("POST", "infer");
            score(req, res, Protocol::v2, name);
            return "infer";
        }
        if (!name.empty() && tail.empty()) {
            if (!get) return wrong_method("GET", "model");
            if (authorized(req, res)) model_metadata(res, name);
            return "model";
        }
    }
    fail(res, 404, "no such endpoint: " + req.method + " " + path);
    return "unknown";
}

void Server::handle(const HttpRequest& req, HttpResponse& res) {
    auto t0 = Clock::now();
    const char* endpoint = route(req, res);
    metrics_.request(endpoint, res.status,
                     std::chrono::duration<double>(Clock::now() - t0).count());
}

void Server::watch() {
    std::unique_ptr<Database> db;
    auto poll = std::chrono::milliseconds(int64_t(std::max(opt_.poll, 0.01) * 1000));
    auto done = [&] { return bool(stopping_); };
    while (!done()) {
        {
            std::unique_lock<std::mutex> lock(watch_mu_);
            watch_cv_.wait_for(lock, poll, done);
        }
        if (done()) break;
        for (Slot* slot : {&primary_, &canary_}) {
            LoadedPtr cur = slot->get();
            if (cur && cur->pool) cur->pool->check();
        }
        try {
            if (!db) db = std::make_unique<Database>(repo_.dot_mlo() / "mlo.db");
            Registry reg(*db);
            struct Follow {
                const std::optional<ModelRef>& ref;
                Slot& slot;
                const char* variant;
            };
            for (const Follow& f :
                 {Follow{ref_, primary_, "primary"}, Follow{canary_ref_, canary_, "canary"}}) {
                if (!f.ref || !follows(*f.ref)) continue;
                LoadedPtr cur = f.slot.get();
                ModelVersion v = reg.resolve(*f.ref);
                if (cur && v.version == cur->version) continue;
                LoadedPtr next = load_version(repo_, v, f.variant, opt_, id_);
                f.slot.set(next);
                metrics_.switched();
                DeploymentStore(*db).switch_version(id_, f.variant, v.version);
                std::cerr << "mlo: deployment " << id_ << ": " << format_model_ref(*f.ref)
                          << " is now version " << v.version << "; serving it (" << f.variant << ")"
                          << std::endl;
            }
        } catch (const std::exception& e) {
            // Keep serving what we have; say why the switch did not happen.
            std::cerr << "mlo: error: deployment " << id_ << ": " << e.what() << std::endl;
        }
    }
}

void Server::run(const std::function<bool()>& should_stop,
                 const std::function<void(const ServeReady&)>& on_ready) {
    ref_ = parse_model_ref(opt_.model);
    if (!ref_)
        throw Error("not a model reference: " + quote(opt_.model) +
                    " (use NAME, NAME:VERSION or NAME@ALIAS)");
    Registry reg(repo_.db());
    ModelVersion pv = reg.resolve(*ref_);
    std::optional<ModelVersion> cv;
    if (!opt_.canary.empty()) {
        canary_ref_ = parse_model_ref(opt_.canary);
        if (!canary_ref_) throw Error("--canary: not a model reference: " + quote(opt_.canary));
        if (!(opt_.canary_percent > 0 && opt_.canary_percent < 100))
            throw Error("--canary: the percentage must be between 0 and 100, not " +
                        std::to_string(opt_.canary_percent));
        cv = reg.resolve(*canary_ref_);
        canary_bp_ = uint64_t(std::llround(opt_.canary_percent * 100));
    }
    name_ = opt_.name.empty() ? pv.name : opt_.name;
    if (!valid_model_name(name_))
        throw Error("deployment name " + quote(name_) + " is not valid: " + kModelNameRule);
    id_ = DeploymentStore::new_id();
    primary_.set(load_version(repo_, pv, "primary", opt_, id_));
    if (cv) canary_.set(load_version(repo_, *cv, "canary", opt_, id_));

    fs::path log_dir = repo_.dot_mlo() / "logs" / name_;
    log_ = std::make_unique<PredictionLog>(log_dir, id_, opt_.log_max_bytes);

    // Built-in models score in microseconds, on the event loops; the command flavour waits
    // for worker processes, on a pool of `threads` handler threads.
    HttpOptions ho;
    ho.host = opt_.host;
    ho.port = opt_.port;
    ho.loops = opt_.command.empty() ? opt_.threads : 0;
    ho.handler_threads = opt_.command.empty() ? 0 : (opt_.threads ? opt_.threads : 64);
    ho.max_body = opt_.max_body;
    ho.keep_alive_timeout = 5;
    ho.io_timeout = 30;
    ho.drain_timeout = 30;
    ho.error_body = [](int status, const std::string& message) {
        return error_body(status, message);
    };
    HttpServer http(ho, [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); });
    int port = http.bind();

    Deployment d;
    d.id = id_;
    d.name = name_;
    d.model_ref = opt_.model;
    d.model_name = pv.name;
    d.version = pv.version;
    if (cv) {
        d.canary_ref = opt_.canary;
        d.canary_version = cv->version;
        d.canary_percent = opt_.canary_percent;
    }
    d.flavor = opt_.command.empty() ? "builtin" : "command";
    d.host = opt_.host;
    d.port = port;
    d.pid = ::getpid();
    d.hostname = this_host();
    d.user = current_user();
    d.started_ns = now_ns();
    d.status = "running";
    d.log_dir = log_dir.string();
    DeploymentStore(repo_.db()).begin(d);

    std::exception_ptr failure, listen_failure;  // ours; the server thread's
    std::atomic<bool> listener_done{false};
    std::thread listener([&] {
        try {
            http.run();
        } catch (...) {
            listen_failure = std::current_exception();
        }
        listener_done = true;
    });
    std::thread watcher([&] { watch(); });
    // The socket listens since bind(): connections wait in its backlog until the loops run.
    ready_ = true;
    try {
        ServeReady r;
        r.id = id_;
        r.name = name_;
        r.host = opt_.host;
        r.port = port;
        r.model = pv.name;
        r.version = pv.version;
        r.log_dir = log_dir;
        on_ready(r);
    } catch (...) {
        failure = std::current_exception();
    }
    while (!should_stop() && !listener_done && !failure)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // Stop accepting; the loops finish the requests that have arrived, then return.
    http.stop();
    listener.join();
    if (!failure) failure = listen_failure;
    {
        std::lock_guard<std::mutex> lock(watch_mu_);
        stopping_ = true;
    }
    watch_cv_.notify_all();
    watcher.join();
    log_->close();
    primary_.set(nullptr);
    canary_.set(nullptr);
    DeploymentStore(repo_.db()).finish(id_, failure ? "failed" : "stopped");
    std::error_code ec;
    fs::remove_all(repo_.dot_mlo() / "tmp" / "deploy" / id_, ec);
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

void serve(Repository& repo, const ServeOptions& options, const std::function<bool()>& should_stop,
           const std::function<void(const ServeReady&)>& on_ready) {
    Server s(repo, options);
    s.run(should_stop, on_ready);
}

}  // namespace mlo::core
