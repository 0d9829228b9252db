#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/http_server.hpp"
#include "testutil.hpp"

using namespace mlo::core;
using Clock = std::chrono::steady_clock;

namespace {

HttpParse parse(std::string_view text, HttpRequest& req, uint64_t max_body = 1 << 20,
                size_t max_header = 4096) {
    return parse_http_request(text, max_body, max_header, &req);
}

// A client on a raw socket: what it sends is exactly what the server reads.
class Client {
public:
    explicit Client(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Client() { ::close(fd_); }
    bool connected() const { return connected_; }
    void send(const std::string& s) {
        REQUIRE(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()));
    }
    // Reads until `text` holds `n` complete responses, the peer closes, or 5 s pass.
    std::vector<std::string> responses(size_t n) {
        auto deadline = Clock::now() + std::chrono::seconds(5);
        while (Clock::now() < deadline) {
            auto got = split();
            if (got.size() >= n) return got;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[65536];
            ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r <= 0) {
                closed_ = true;
                break;
            }
            text_.append(buf, size_t(r));
        }
        return split();
    }
    // Whether the server closed the connection (within 5 s).
    bool closed() {
        auto deadline = Clock::now() + std::chrono::seconds(5);
        while (!closed_ && Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
            if (r <= 0) closed_ = true;
        }
        return closed_;
    }
    std::string text_;

private:
    // Complete responses in text_ (header block, then Content-Length bytes).
    std::vector<std::string> split() const {
        std::vector<std::string> out;
        size_t at = 0;
        while (true) {
            size_t end = text_.find("\r\n\r\n", at);
            if (end == std::string::npos) break;
            std::string head = text_.substr(at, end + 4 - at);
            size_t len = 0;
            size_t cl = head.find("Content-Length: ");
            if (cl != std::string::npos) len = std::stoul(head.substr(cl + 16));
            if (text_.size() < end + 4 + len) break;
            out.push_back(text_.substr(at, end + 4 + len - at));
            at = end + 4 + len;
        }
        return out;
    }
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
};

// A server on a free port, run on a thread; stopped and joined at the end of the scope.
struct TestServer {
    HttpServer server;
    int port = 0;
    std::thread thread;
    TestServer(HttpOptions o, HttpServer::Handler h) : server(std::move(o), std::move(h)) {
        port = server.bind();
        thread = std::thread([this] { server.run(); });
    }
    ~TestServer() {
        server.stop();
        thread.join();
    }
};

HttpServer::Handler echo() {
    return [](const HttpRequest& req, HttpResponse& res) {
        if (req.path == "/boom") throw std::runtime_error("handler failed");
        res.set(200, req.method + " " + req.path + " " + req.body, "text/plain");
        res.headers.emplace_back("X-Query", req.query);
    };
}

std::string body_of(const std::string& response) {
    return response.substr(response.find("\r\n\r\n") + 4);
}

}  // namespace

TEST_CASE("parse_http_request reads a request and its body", "[http]") {
    HttpRequest req;
    HttpParse p = parse(
        "GET /v2/models/churn%20x?verbose=1 HTTP/1.1\r\nHost: a\r\n"
        "X-Thing:  spaced value \r\n\r\nNEXT",
        req);
    REQUIRE(p.status == HttpParse::complete);
    CHECK(p.consumed ==
          std::string_view("GET /v2/models/churn%20x?verbose=1 HTTP/1.1\r\nHost: a\r\n"
                           "X-Thing:  spaced value \r\n\r\n")
              .size());
    CHECK(req.method == "GET");
    CHECK(req.path == "/v2/models/churn x");
    CHECK(req.query == "verbose=1");
    CHECK(req.header("x-thing") == "spaced value");
    CHECK(req.header("host") == "a");
    CHECK(req.header("missing").empty());
    CHECK(p.keep_alive);

    std::string post = "POST /invocations HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
    for (size_t cut = 0; cut < post.size(); ++cut) {
        HttpRequest partial;
        HttpParse q = parse(std::string_view(post).substr(0, cut), partial);
        REQUIRE(q.status == HttpParse::incomplete);
        CHECK(q.need > cut);
    }
    p = parse(post, req);
    REQUIRE(p.status == HttpParse::complete);
    CHECK(req.body == "hello world");
    CHECK(p.consumed == post.size());

    // Bare LF line ends are accepted.
    p = parse("GET /ping HTTP/1.0\nConnection: keep-alive\n\n", req);
    REQUIRE(p.status == HttpParse::complete);
    CHECK(req.minor == 0);
    CHECK(p.keep_alive);
    p = parse("GET /ping HTTP/1.0\r\n\r\n", req);
    CHECK(!p.keep_alive);  // HTTP/1.0 closes unless asked
    p = parse("GET /ping HTTP/1.1\r\nConnection: Upgrade, close\r\n\r\n", req);
    CHECK(!p.keep_alive);
}

TEST_CASE("parse_http_request joins a chunked body", "[http]") {
    std::string text =
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
    HttpRequest req;
    HttpParse p = parse(text, req);
    REQUIRE(p.status == HttpParse::complete);
    CHECK(req.body == "hello world");
    CHECK(p.consumed == text.size());
    for (size_t cut = 0; cut < text.size(); ++cut) {
        HttpRequest partial;
        CHECK(parse(std::string_view(text).substr(0, cut), partial).status ==
              HttpParse::incomplete);
    }
    p = parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", req);
    CHECK(p.status == HttpParse::bad);
    CHECK(p.error_status == 400);
    p = parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n", req, 16);
    CHECK(p.error_status == 413);
}

TEST_CASE("parse_http_request rejects what it cannot serve", "[http]") {
    HttpRequest req;
    struct Case {
        std::string text;
        int status;
    };
    std::vector<Case> cases = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET /x HTTP/2.0\r\n\r\n", 505},
        {"GET /x HTTP/1.1 extra\r\n\r\n", 400},
        {"GET x HTTP/1.1\r\n\r\n", 400},
        {"GET /%zz HTTP/1.1\r\n\r\n", 400},
        {"GET /a%00b HTTP/1.1\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413},
        {"POST /x HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nbad header\r\n\r\n", 400},
        {"GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
        {"POST /x HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
        {"GET /x HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", 431},
        {"GET /x HTTP/1.1\r\nX: " + std::string(5000, 'a'), 431},  // not even complete
    };
    for (const auto& c : cases) {
        INFO(c.text.substr(0, 80));
        HttpParse p = parse(c.text, req);
        REQUIRE(p.status == HttpParse::bad);
        CHECK(p.error_status == c.status);
        CHECK(!p.error.empty());
    }
    HttpParse p =
        parse("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", req);
    CHECK(p.status == HttpParse::incomplete);
    CHECK(p.expect_continue);
}

TEST_CASE("append_http_response writes status, length and connection", "[http]") {
    HttpRequest req;
    req.method = "GET";
    HttpResponse res;
    res.set(404, "{}", "application/json");
    res.headers.emplace_back("X-A", "b");
    std::string out;
    append_http_response(out, req, res, true);
    CHECK(out.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
    CHECK(out.find("Content-Length: 2\r\n") != std::string::npos);
    CHECK(out.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(out.find("X-A: b\r\n") != std::string::npos);
    CHECK(out.find("Connection") == std::string::npos);
    CHECK(out.find("\r\nDate: ") != std::string::npos);
    CHECK(out.substr(out.size() - 6) == "\r\n\r\n{}");
    out.clear();
    req.method = "HEAD";
    append_http_response(out, req, res, false);
    CHECK(out.find("Connection: close\r\n") != std::string::npos);
    CHECK(out.find("Content-Length: 2\r\n") != std::string::npos);
    CHECK(out.substr(out.size() - 4) == "\r\n\r\n");  // no body for HEAD
}

TEST_CASE("the server answers keep-alive, pipelined and continued requests", "[http]") {
    HttpOptions o;
    o.loops = 2;
    o.max_body = 1000;
    TestServer s(o, echo());
    {
        Client c(s.port);
        REQUIRE(c.connected());
        c.send("GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
        auto r = c.responses(1);
        REQUIRE(r.size() == 1);
        CHECK(r[0].rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(body_of(r[0]) == "GET /a ");
        CHECK(r[0].find("X-Query: x=1\r\n") != std::string::npos);
        // Same connection: three pipelined requests in one write, answered in order.
        c.send(
            "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nonePOST /c HTTP/1.1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\nGET /boom HTTP/1.1\r\n\r\n");
        r = c.responses(4);
        REQUIRE(r.size() == 4);
        CHECK(body_of(r[1]) == "POST /b one");
        CHECK(body_of(r[2]) == "POST /c two");
        CHECK(r[3].rfind("HTTP/1.1 500 ", 0) == 0);  // the handler threw; the server lives on
        CHECK(body_of(r[3]).find("handler failed") != std::string::npos);
    }
    {
        // A request trickling in byte by byte.
        Client c(s.port);
        std::string req = "POST /slow HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
        for (char ch : req) {
            c.send(std::string(1, ch));
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        auto r = c.responses(1);
        REQUIRE(r.size() == 1);
        CHECK(body_of(r[0]) == "POST /slow body");
    }
    {
        // Expect: 100-continue: the interim answer comes before the body is sent.
        Client c(s.port);
        c.send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        auto r = c.responses(1);
        REQUIRE(r.size() == 1);
        CHECK(r[0] == "HTTP/1.1 100 Continue\r\n\r\n");
        c.send("12345");
        r = c.responses(2);
        REQUIRE(r.size() == 2);
        CHECK(body_of(r[1]) == "POST /e 12345");
    }
    {
        // Too large: 413, then the connection closes (after the client could read it).
        Client c(s.port);
        c.send("POST /big HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + std::string(3000, 'x'));
        auto r = c.responses(1);
        REQUIRE(r.size() == 1);
        CHECK(r[0].rfind("HTTP/1.1 413 ", 0) == 0);
        CHECK(r[0].find("Connection: close\r\n") != std::string::npos);
        CHECK(c.closed());
    }
    {
        // HTTP/1.0 without keep-alive: answered, then closed.
        Client c(s.port);
        c.send("GET /old HTTP/1.0\r\n\r\n");
        auto r = c.responses(1);
        REQUIRE(r.size() == 1);
        CHECK(body_of(r[0]) == "GET /old ");
        CHECK(c.closed());
    }
}

TEST_CASE("the server serves many connections at once across its loops", "[http]") {
    HttpOptions o;
    o.loops = 2;
    std::atomic<int> calls{0};
    TestServer s(o, [&](const HttpRequest& req, HttpResponse& res) {
        ++calls;
        res.set(200, req.body, "text/plain");
    });
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t)
        clients.emplace_back([&, t] {
            Client c(s.port);
            for (int i = 0; i < 50; ++i) {
                std::string body = std::to_string(t) + ":" + std::to_string(i);
                c.send("POST /x HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body);
                auto r = c.responses(size_t(i + 1));
                if (r.size() == size_t(i + 1) && body_of(r.back()) == body) ++ok;
            }
        });
    for (auto& t : clients)
        t.join();
    CHECK(ok == 400);
    CHECK(calls == 400);
}

TEST_CASE("stop() finishes the requests in flight, then refuses connections", "[http]") {
    HttpOptions o;
    o.loops = 1;
    o.handler_threads = 4;  // handlers that block, as a command-flavour model's do
    std::atomic<int> started{0};
    HttpServer server(o, [&](const HttpRequest& req, HttpResponse& res) {
        ++started;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        res.set(200, "done " + req.path, "text/plain");
    });
    int port = server.bind();
    std::thread runner([&] { server.run(); });

    // Two slow requests on two connections run at once on the pool.
    Client a(port), b(port), idle(port);
    REQUIRE(idle.connected());
    auto t0 = Clock::now();
    a.send("GET /a HTTP/1.1\r\n\r\n");
    b.send("GET /b HTTP/1.1\r\n\r\n");
    while (started < 2 && Clock::now() - t0 < std::chrono::seconds(5))
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(started == 2);
    server.stop();
    auto ra = a.responses(1), rb = b.responses(1);
    REQUIRE(ra.size() == 1);
    REQUIRE(rb.size() == 1);
    CHECK(body_of(ra[0]) == "done /a");
    CHECK(body_of(rb[0]) == "done /b");
    CHECK(ra[0].find("Connection: close\r\n") != std::string::npos);
    CHECK(Clock::now() - t0 < std::chrono::milliseconds(550));  // in parallel, not in turn
    CHECK(a.closed());
    CHECK(idle.closed());  // idle keep-alive connections are closed
    runner.join();         // run() returns once everything is answered
    Client late(port);
    CHECK(!late.connected());
}
