#pragma once

// `mlo deploy` (issue 6): an HTTP server for one registered model (and optionally a canary),
// with MLflow's scoring protocol, KServe's Open Inference Protocol V2, Prometheus metrics, a
// prediction log for monitoring, zero-downtime version switches and graceful shutdown.
//
// Threads: event loops (core/http_server.hpp) read requests and score built-in models on the
// thread that read them; command-flavour requests wait for a worker on a handler pool. A watcher
// thread polls the registry for the alias the deployment follows and swaps the model in atomically
// (a request holds the model it started with until it ends). The prediction log is written by
// its own thread (core/prediction_log.hpp). Command-flavour models are scored by persistent
// worker processes (core/workers.hpp).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/registry.hpp"
#include "core/repository.hpp"
#include "storage/fs.hpp"

namespace mlo::core {

struct ServeOptions {
    std::string model;  // reference: NAME, NAME:VERSION, NAME@ALIAS
    std::string host = "127.0.0.1";
    int port = 8080;  // 0: any free port
    // Built-in models: event-loop threads, 0 = half the CPUs. Command flavour: threads waiting
    // for the workers, 0 = 64 (the event loops are then half the CPUs).
    unsigned threads = 0;
    std::string token;  // "" = no authentication
    uint64_t max_body = 16ull << 20;
    std::string name;  // deployment name (log directory); "" = the model's name
    // Command flavour: "" = the built-in model is evaluated in process.
    std::string command;
    unsigned workers = 2;
    double timeout = 30;  // seconds a worker may take for one request
    // Canary: a second model taking `canary_percent` of the requests.
    std::string canary;
    double canary_percent = 0;
    uint64_t log_max_bytes = 64ull << 20;  // prediction log files rotate at this size
    double poll = 0.5;                     // seconds between registry checks
    std::string mlo_version;               // for GET /version
};

// What a running server tells its caller once it listens.
struct ServeReady {
    std::string id;  // deployment id
    std::string name;
    std::string host;
    int port = 0;
    std::string model;
    int64_t version = 0;
    fs::path log_dir;
};

// Serves until `should_stop()` (polled every 20 ms; the caller's signal handling) says so,
// then stops accepting, finishes the requests in flight, flushes the prediction log, records
// the stop in the database and returns. `on_ready` is called once, when the socket listens.
// Throws Error (exit 2) for a bad option, a model that cannot be loaded or a port that cannot
// be bound.
void serve(Repository& repo, const ServeOptions& options, const std::function<bool()>& should_stop,
           const std::function<void(const ServeReady&)>& on_ready);

}  // namespace mlo::core
