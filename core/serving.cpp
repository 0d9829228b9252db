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

#include <httplib.h>

#include "core/deployments.hpp"
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

    void request(const std::string& endpoint, int status, double seconds) {
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
            line("mlo_requests_total{endpoint=\"" + k.first + "\",code=\"" +
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
    std::map<std::pair<std::string, int>, uint64_t> requests_;
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

// Rows of a CSV body as JSON values, for the command flavour (no model schema to type them).
RequestRows rows_from_csv(std::string_view body) {
    Table t;
    try {
        CsvOptions opt;
        opt.jobs = 1;
        t = parse_csv(body, "the request body", opt);
    } catch (const Error& e) {
        throw RequestError(400, e.what());
    }
    if (t.rows == 0) throw RequestError(400, "the request has no rows");
    RequestRows rows;
    rows.rows = t.rows;
    for (const auto& c : t.columns) {
        rows.columns.push_back(c.name);
        std::vector<json> vals;
        vals.reserve(t.rows);
        for (size_t i = 0; i < t.rows; ++i) {
            if (c.type == ColumnType::categorical) {
                vals.push_back(c.codes[i] < 0 ? json(nullptr)
                                              : json(c.categories[size_t(c.codes[i])]));
            } else if (std::isnan(c.numbers[i])) {
                vals.push_back(nullptr);
            } else if (c.type == ColumnType::boolean) {
                vals.push_back(c.numbers[i] != 0);
            } else {
                vals.push_back(c.numbers[i]);
            }
        }
        rows.values.push_back(std::move(vals));
    }
    return rows;
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
    void routes();
    bool authorized(const httplib::Request& req, httplib::Response& res);
    void fail(httplib::Response& res, int status, const std::string& message);
    void score(const httplib::Request& req, httplib::Response& res, Protocol protocol,
               const std::string& endpoint);
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
    httplib::Server http_;
    std::mutex watch_mu_;
    std::condition_variable watch_cv_;
};

void Server::fail(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(error_body(status, message), "application/json");
}

bool Server::authorized(const httplib::Request& req, httplib::Response& res) {
    if (opt_.token.empty()) return true;
    std::string h = req.get_header_value("Authorization");
    std::string want = "Bearer " + opt_.token;
    // Constant time in the token's length.
    bool ok = h.size() == want.size();
    unsigned char diff = 0;
    for (size_t i = 0; i < want.size(); ++i)
        diff |= static_cast<unsigned char>((i < h.size() ? h[i] : 0) ^ want[i]);
    ok = ok && diff == 0;
    if (!ok) {
        res.set_header("WWW-Authenticate", "Bearer");
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

void Server::score(const httplib::Request& req, httplib::Response& res, Protocol protocol,
                   const std::string& endpoint) {
    auto t0 = Clock::now();
    std::string request_id = req.get_header_value("X-Request-ID");
    if (request_id.empty() || request_id.size() > 128) request_id = new_request_id();
    res.set_header("X-Request-ID", request_id);
    try {
        if (!authorized(req, res)) throw RequestError(401, "");
        if (!ready_) throw RequestError(503, "the model is not loaded yet");
        if (protocol == Protocol::v2) {
            const std::string name = req.matches.size() > 1 ? req.matches[1].str() : "";
            LoadedPtr p = primary_.get();
            if (!p || (name != p->name && name != name_))
                throw RequestError(404, "unknown model '" + name + "' (this server serves '" +
                                            (p ? p->name : name_) + "')");
        }
        std::string ct = req.get_header_value("Content-Type");
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
        json predictions;  // for the log
        if (m->model) {
            Table t = csv ? table_from_csv(*m->model, req.body, rows)
                          : table_for_model(*m->model, rows = parse_json_request(req.body, protocol,
                                                                                 m->features));
            Predictions p = predict(*m->model, t, "the request", 1);
            body = protocol == Protocol::v2 ? v2_response(*m->model, p, m->name, m->version,
                                                          rows.id.empty() ? request_id : rows.id)
                                            : mlflow_response(*m->model, p, rows.want_proba);
            predictions = json::array();
            for (size_t i = 0; i < p.rows; ++i)
                predictions.push_back(prediction_value(*m->model, p, i));
        } else {
            rows =
                csv ? rows_from_csv(req.body) : parse_json_request(req.body, protocol, m->features);
            predictions = m->pool->predict(request_id, rows.columns, row_major(rows), rows.rows);
            body = protocol == Protocol::v2 ? v2_response(predictions, m->name, m->version,
                                                          rows.id.empty() ? request_id : rows.id)
                                            : mlflow_response(predictions);
        }
        // The record is queued before the answer leaves: a client that got an answer has
        // its request in the log (close() writes the queue out on shutdown).
        std::string record = "{\"type\":\"prediction\",\"request_id\":" + json_text(request_id) +
                             ",\"time\":\"" + iso_utc(now_ns()) + "\",\"deployment\":\"" + id_ +
                             "\",\"model\":" + json_text(m->name) +
                             ",\"version\":" + std::to_string(m->version) + ",\"variant\":\"" +
                             m->variant + "\",\"columns\":" + json_text(rows.columns) +
                             ",\"inputs\":" + json_text(row_major(rows)) +
                             ",\"predictions\":" + json_text(predictions) + "}";
        log_->add(std::move(record));
        metrics_.rows(m->variant, m->version, rows.rows);
        res.set_header("X-Model-Version", std::to_string(m->version));
        res.set_content(body, "application/json");
        res.status = 200;
    } catch (const RequestError& e) {
        if (e.status() != 401) fail(res, e.status(), e.what());
    } catch (const Error& e) {
        fail(res, 422, e.what());
    } catch (const std::exception& e) {
        fail(res, 500, e.what());
    }
    metrics_.request(endpoint, res.status,
                     std::chrono::duration<double>(Clock::now() - t0).count());
}

void Server::routes() {
    auto simple = [this](const char* endpoint, auto&& fn) {
        return [this, endpoint, fn](const httplib::Request& req, httplib::Response& res) {
            auto t0 = Clock::now();
            fn(req, res);
            metrics_.request(endpoint, res.status,
                             std::chrono::duration<double>(Clock::now() - t0).count());
        };
    };
    http_.Post("/invocations", [this](const httplib::Request& req, httplib::Response& res) {
        score(req, res, Protocol::mlflow, "invocations");
    });
    http_.Post(R"(/v2/models/([^/]+)/infer)",
               [this](const httplib::Request& req, httplib::Response& res) {
                   score(req, res, Protocol::v2, "infer");
               });
    http_.Post(R"(/v2/models/([^/]+)/versions/([^/]+)/infer)",
               [this](const httplib::Request& req, httplib::Response& res) {
                   score(req, res, Protocol::v2, "infer");
               });
    // Health checks carry no token (load balancers and probes rarely can).
    auto ping = [this](const httplib::Request&, httplib::Response& res) {
        if (!ready_) return fail(res, 503, "the model is not loaded yet");
        res.set_content("\n", "text/plain");
    };
    http_.Get("/ping", simple("ping", ping));
    http_.Get("/health", simple("health", ping));
    http_.Get("/v2/health/live",
              simple("live", [](const httplib::Request&, httplib::Response& res) {
                  res.set_content("{\"live\":true}", "application/json");
              }));
    http_.Get("/v2/health/ready",
              simple("ready", [this](const httplib::Request&, httplib::Response& res) {
                  if (!ready_) return fail(res, 503, "the model is not loaded yet");
                  res.set_content("{\"ready\":true}", "application/json");
              }));
    http_.Get("/version",
              simple("version", [this](const httplib::Request& req, httplib::Response& res) {
                  if (!authorized(req, res)) return;
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
                  res.set_content(json_text(j), "application/json");
              }));
    http_.Get(R"(/v2/models/([^/]+))",
              simple("model", [this](const httplib::Request& req, httplib::Response& res) {
                  if (!authorized(req, res)) return;
                  LoadedPtr p = primary_.get();
                  std::string name = req.matches[1].str();
                  if (!p || (name != p->name && name != name_))
                      return fail(res, 404, "unknown model '" + name + "'");
                  json inputs = json::array();
                  if (p->model)
                      for (const auto& f : p->model->features)
                          inputs.push_back(
                              {{"name", f.name},
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
                  res.set_content(json_text(j), "application/json");
              }));
    http_.Get(
        "/metrics", simple("metrics", [this](const httplib::Request& req, httplib::Response& res) {
            if (!authorized(req, res)) return;
            uint64_t restarts = 0;
            LoadedPtr p = primary_.get(), c = canary_.get();
            for (const auto& m : {p, c})
                if (m && m->pool) restarts += m->pool->restarts();
            res.set_content(
                metrics_.text(id_, {p, c}, log_->records_written(), log_->write_errors(), restarts),
                "text/plain; version=0.0.4");
        }));
    http_.Post("/feedback",
               simple("feedback", [this](const httplib::Request& req, httplib::Response& res) {
                   if (!authorized(req, res)) return;
                   if (!content_type_is(req.get_header_value("Content-Type"), "application/json"))
                       return fail(res, 415, "send feedback as application/json");
                   json j = json::parse(req.body, nullptr, false);
                   if (j.is_discarded() || !j.is_object())
                       return fail(res, 400, "the feedback body must be a JSON object");
                   auto id = j.find("request_id");
                   if (id == j.end() || !id->is_string() || id->get<std::string>().empty())
                       return fail(res, 400, "feedback needs a 'request_id' string");
                   bool one = j.contains("label"), many = j.contains("labels");
                   if (one == many)
                       return fail(res, 400,
                                   "feedback needs 'label' (one row) or 'labels' (a list, one "
                                   "per row)");
                   if (many && !j["labels"].is_array())
                       return fail(res, 400, "'labels' must be a list");
                   json labels = many ? j["labels"] : json::array({j["label"]});
                   log_->add("{\"type\":\"feedback\",\"request_id\":" + json_text(*id) +
                             ",\"time\":\"" + iso_utc(now_ns()) + "\",\"deployment\":\"" + id_ +
                             "\",\"labels\":" + json_text(labels) + "}");
                   res.status = 202;
                   res.set_content("{\"status\":\"recorded\"}", "application/json");
               }));
    // Bodies for the errors cpp-httplib answers itself (404 no route, 413 too large, 400).
    http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        std::string why = res.status == 404   ? "no such endpoint: " + req.method + " " + req.path
                          : res.status == 413 ? "the request body is larger than the limit"
                                              : "the request could not be read";
        res.set_content(error_body(res.status, why), "application/json");
    });
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

    unsigned threads = opt_.threads ? opt_.threads : 64;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_.set_keep_alive_max_count(100000);
    http_.set_keep_alive_timeout(5);
    http_.set_read_timeout(30);
    http_.set_write_timeout(30);
    http_.set_tcp_nodelay(true);
    http_.set_payload_max_length(size_t(opt_.max_body));
    int listen_fd = -1;
    http_.set_socket_options([&listen_fd](int sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        listen_fd = sock;
    });
    routes();
    int port = opt_.port;
    if (port == 0) {
        port = http_.bind_to_any_port(opt_.host);
        if (port < 0) throw Error("cannot listen on " + opt_.host + ": no free port");
    } else if (!http_.bind_to_port(opt_.host, port)) {
        throw Error("cannot listen on " + opt_.host + ":" + std::to_string(port) +
                    " (is the port in use, or the address not this machine's?)");
    }
    // cpp-httplib listens with a backlog of 5; a burst of new connections (64 clients
    // connecting at once) would then wait a second for SYN retries.
    if (listen_fd >= 0) ::listen(listen_fd, 1024);

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

    std::exception_ptr failure, listen_failure;  // ours; the listener thread's
    std::atomic<bool> listener_done{false};
    std::thread listener([&] {
        try {
            http_.listen_after_bind();
        } catch (...) {
            listen_failure = std::current_exception();
        }
        listener_done = true;
    });
    std::thread watcher([&] { watch(); });
    // Ready once the listener thread really listens: until then is_running() is false, and
    // the loop below would take that for a server that ended.
    while (!http_.is_running() && !listener_done)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
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
    // Stop accepting; the connection threads finish the requests they are serving (the
    // thread pool is joined before listen_after_bind returns).
    http_.stop();
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
