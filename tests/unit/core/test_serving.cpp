#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/prediction_log.hpp"
#include "core/scoring.hpp"
#include "core/workers.hpp"
#include "storage/fs.hpp"
#include "testutil.hpp"

using namespace mlo;
using namespace mlo::core;
using mlo::test::TempDir;
using nlohmann::json;

namespace {

std::vector<std::string> log_lines(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        std::string text = read_file(e.path());
        REQUIRE((text.empty() || text.back() == '\n'));  // whole lines only
        size_t at = 0;
        while (at < text.size()) {
            size_t nl = text.find('\n', at);
            out.push_back(text.substr(at, nl - at));
            at = nl + 1;
        }
    }
    return out;
}

}  // namespace

TEST_CASE("the prediction log keeps every record across rotations and threads", "[serving]") {
    TempDir tmp;
    fs::path dir = tmp / "logs" / "churn";
    {
        PredictionLog log(dir, "abc", 4096);
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&log, t] {
                for (int i = 0; i < 500; ++i)
                    log.add(json{{"t", t}, {"i", i}, {"pad", std::string(40, 'x')}}.dump());
            });
        for (auto& th : threads)
            th.join();
        log.close();
        CHECK(log.records_written() == 2000);
        log.add("{\"late\":1}");  // after close: dropped, not a crash
    }
    std::vector<std::string> lines = log_lines(dir);
    REQUIRE(lines.size() == 2000);
    std::set<std::pair<int, int>> seen;
    for (const auto& l : lines) {
        json j = json::parse(l);
        seen.insert({j["t"].get<int>(), j["i"].get<int>()});
    }
    CHECK(seen.size() == 2000);
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        ++files;
        CHECK(fs::file_size(e.path()) <= 4096);
        CHECK(e.path().filename().string().rfind("abc-", 0) == 0);
    }
    CHECK(files > 10);
    // A second log with the same prefix continues the numbering instead of overwriting.
    {
        PredictionLog again(dir, "abc", 4096);
        again.add("{\"again\":1}");
    }
    CHECK(log_lines(dir).size() == 2001);
}

TEST_CASE("command workers answer, and a dead or hung one is replaced", "[serving]") {
    std::signal(SIGPIPE, SIG_IGN);
    TempDir tmp;
    // A shell worker: "hang" sleeps, "die" exits, anything else gets one prediction per row.
    const std::string cmd =
        "while IFS= read -r line; do case \"$line\" in *hang*) sleep 30;; *die*) exit 3;; "
        "esac; echo '{\"predictions\": [\"'\"$MLO_MODEL_VERSION\"'\"]}'; done";
    WorkerPool pool(cmd, tmp.path(), {{"MLO_MODEL_VERSION", "7"}}, 2, 0.5);
    json cols = {"x"};
    CHECK(pool.predict("r1", cols, json::array({json::array({1})}), 1) == json({"7"}));
    // Wrong number of predictions: a protocol error (500); the worker answered one line, so
    // it stays.
    try {
        pool.predict("r2", cols, json::array({json::array({1}), json::array({2})}), 2);
        FAIL("expected an error");
    } catch (const RequestError& e) {
        CHECK(e.status() == 500);
    }
    CHECK(pool.restarts() == 0);
    try {
        pool.predict("r3", cols, json::array({json::array({"hang"})}), 1);
        FAIL("expected an error");
    } catch (const RequestError& e) {
        CHECK(e.status() == 503);
    }
    try {
        pool.predict("r4", cols, json::array({json::array({"die"})}), 1);
        FAIL("expected an error");
    } catch (const RequestError& e) {
        CHECK(e.status() == 503);
    }
    CHECK(pool.restarts() == 2);
    // An idle worker killed from outside is replaced by check().
    pid_t victim = pool.pids()[0];
    ::kill(victim, SIGKILL);
    for (int i = 0; i < 100 && pool.check() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(pool.restarts() == 3);
    CHECK(pool.pids()[0] != victim);
    for (int i = 0; i < 10; ++i)
        CHECK(pool.predict("ok", cols, json::array({json::array({i})}), 1) == json({"7"}));
}
