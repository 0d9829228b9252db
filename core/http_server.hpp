#pragma once
// A small HTTP/1.1 server for `mlo deploy`: epoll event loops, keep-alive and pipelining,
// Content-Length and chunked bodies, `Expect: 100-continue`, limits and timeouts, and a
// graceful stop that finishes the requests in flight.
//
// Why not cpp-httplib: it serves each connection on a thread of its own and spends about ten
// system calls on every request (a poll before each read, getpeername and getsockname, the
// headers and the body in two sends). In this project's virtual machines a system call costs
// several microseconds, so those calls were most of a one-row prediction's time. Here a
// request costs one recv and one send, and an epoll_wait is shared by every connection that
// is ready at once.
//
// Threads: `loops` event-loop threads (default: half the CPUs); the first also accepts, and
// hands new connections round-robin to the loops. A handler runs on the loop thread that read
// the request, so it must not block; a server whose handlers can block (a model served by
// worker processes) sets `handler_threads`, and its requests then run on that pool while the
// loop goes on with other connections.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlo::core {

struct HttpRequest {
    std::string method;  // as sent ("GET", "POST", "HEAD", ...)
    std::string path;    // percent-decoded, without the query
    std::string query;   // after '?', not decoded
    int minor = 1;       // HTTP/1.<minor>
    std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
    std::string body;  // decoded (chunked bodies are joined)

    // The value of the first header called `lower_name`, or "" when there is none.
    std::string_view header(std::string_view lower_name) const;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // besides the standard ones

    void set(int code, std::string content, std::string type) {
        status = code;
        body = std::move(content);
        content_type = std::move(type);
    }
};

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 0;                  // 0: any free port
    unsigned loops = 0;            // event-loop threads; 0: half the CPUs, at least one
    unsigned handler_threads = 0;  // 0: handlers run on the loop threads and must not block
    uint64_t max_body = 16ull << 20;
    size_t max_header = 64 << 10;   // request line and headers
    double keep_alive_timeout = 5;  // seconds an idle connection is kept
    double io_timeout = 30;         // seconds a request may take to arrive, a response to leave
    double drain_timeout = 30;      // on stop: seconds given to unfinished requests
    int backlog = 1024;
    // Body of the errors the server answers itself (400, 408, 413, 431, 501, 505).
    std::function<std::string(int status, const std::string& message)> error_body;
};

// Parsing a request from the bytes a connection has received (exposed for tests).
struct HttpParse {
    enum Status { incomplete, complete, bad } status = incomplete;
    size_t consumed = 0;           // complete: bytes of this request (headers and body)
    size_t need = 0;               // incomplete: bytes worth waiting for before parsing again
    bool keep_alive = true;        // complete: the client wants the connection kept
    bool expect_continue = false;  // incomplete: headers read, the client waits for "100"
    int error_status = 0;          // bad: 400, 413, 431, 501 or 505
    std::string error;             // bad: why
};
HttpParse parse_http_request(std::string_view buf, uint64_t max_body, size_t max_header,
                             HttpRequest* req);

// The bytes of a response. `keep_alive` false adds "Connection: close"; a HEAD request's
// response has the headers only.
void append_http_response(std::string& out, const HttpRequest& req, const HttpResponse& res,
                          bool keep_alive);

class HttpServer {
public:
    using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

    HttpServer(HttpOptions options, Handler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Creates the listening socket; returns the port. Throws Error when it cannot.
    int bind();
    // Serves until stop(), then stops accepting, finishes the requests that have arrived
    // (giving partial ones drain_timeout), closes every connection and returns.
    void run();
    // Thread-safe; returns at once.
    void stop();

    struct Impl;  // defined in http_server.cpp

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace mlo::core
