#include "core/http_server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "storage/error.hpp"

namespace mlo::core {

namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One line ending at buf[pos..]: returns the line without its CRLF (or bare LF) and moves pos
// past it, or returns false when no line end has arrived yet.
bool next_line(std::string_view buf, size_t& pos, std::string_view& line) {
    size_t nl = buf.find('\n', pos);
    if (nl == std::string_view::npos) return false;
    size_t end = nl;
    if (end > pos && buf[end - 1] == '\r') --end;
    line = buf.substr(pos, end - pos);
    pos = nl + 1;
    return true;
}

HttpParse bad(int status, std::string why) {
    HttpParse p;
    p.status = HttpParse::bad;
    p.error_status = status;
    p.error = std::move(why);
    return p;
}

// Parses a chunked body starting at `pos`. Returns false while incomplete; on success sets
// `end` past the trailer and, when `out` is given, appends the data to it.
bool parse_chunked(std::string_view buf, size_t pos, uint64_t max_body, size_t& end,
                   std::string* out, HttpParse& err) {
    uint64_t total = 0;
    while (true) {
        std::string_view line;
        if (!next_line(buf, pos, line)) {
            if (buf.size() - pos > 1024) err = bad(400, "a chunk size line is too long");
            return false;
        }
        size_t semi = line.find(';');  // chunk extensions are ignored
        std::string_view digits = trim(line.substr(0, semi));
        if (digits.empty() || digits.size() > 15) {
            err = bad(400, "malformed chunk size '" + std::string(line.substr(0, 40)) + "'");
            return false;
        }
        uint64_t size = 0;
        for (char c : digits) {
            int d = hex_digit(c);
            if (d < 0) {
                err = bad(400, "malformed chunk size '" + std::string(line.substr(0, 40)) + "'");
                return false;
            }
            size = size * 16 + uint64_t(d);
        }
        if (size == 0) break;
        total += size;
        if (total > max_body) {
            err = bad(413, "the request body is larger than the limit (" +
                               std::to_string(max_body) + " bytes)");
            return false;
        }
        if (buf.size() - pos < size + 2) return false;
        if (out) out->append(buf.data() + pos, size);
        pos += size;
        if (buf[pos] == '\r') ++pos;
        if (pos >= buf.size()) return false;
        if (buf[pos] != '\n') {
            err = bad(400, "a chunk is longer than its size");
            return false;
        }
        ++pos;
    }
    // Trailer fields, then an empty line.
    while (true) {
        std::string_view line;
        if (!next_line(buf, pos, line)) return false;
        if (line.empty()) break;
    }
    end = pos;
    return true;
}

const char* reason(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 415:
            return "Unsupported Media Type";
        case 417:
            return "Expectation Failed";
        case 422:
            return "Unprocessable Entity";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

// "Date: Sat, 28 Nov 2026 03:04:05 GMT\r\n", formatted once a second per thread.
const std::string& date_header() {
    thread_local time_t last = 0;
    thread_local std::string text;
    time_t now = ::time(nullptr);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        text = buf;
        last = now;
    }
    return text;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lower_name) const {
    for (const auto& h : headers)
        if (h.first == lower_name) return h.second;
    return {};
}

HttpParse parse_http_request(std::string_view buf, uint64_t max_body, size_t max_header,
                             HttpRequest* req) {
    // Empty lines before a request are ignored (RFC 9112 2.2).
    size_t pos = 0;
    while (pos < buf.size() && (buf[pos] == '\r' || buf[pos] == '\n'))
        ++pos;
    size_t head_end = buf.find("\n\r\n", pos);
    size_t head_end_lf = buf.find("\n\n", pos);
    size_t body_at;
    if (head_end == std::string_view::npos && head_end_lf == std::string_view::npos) {
        if (buf.size() - pos > max_header)
            return bad(431, "the request's headers are larger than " + std::to_string(max_header) +
                                " bytes");
        HttpParse p;
        p.need = buf.size() + 1;
        return p;
    }
    if (head_end != std::string_view::npos &&
        (head_end_lf == std::string_view::npos || head_end < head_end_lf))
        body_at = head_end + 3;
    else
        body_at = head_end_lf + 2;
    if (body_at - pos > max_header + 4)
        return bad(
            431, "the request's headers are larger than " + std::to_string(max_header) + " bytes");

    // Request line: METHOD SP TARGET SP HTTP/1.x
    std::string_view line;
    next_line(buf, pos, line);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return bad(400, "malformed request line '" + std::string(line.substr(0, 80)) + "'");
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (method.empty() || target.empty())
        return bad(400, "malformed request line '" + std::string(line.substr(0, 80)) + "'");
    for (char c : method)
        if (!is_token_char(c)) return bad(400, "malformed method in the request line");
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return bad(400, "malformed HTTP version '" + std::string(version.substr(0, 20)) + "'");
    if (version[5] != '1')
        return bad(505, "HTTP version " + std::string(version.substr(5)) +
                            " is not supported (use HTTP/1.1)");
    req->method.assign(method);
    req->minor = version[7] - '0';

    // Target: origin form "/path?query", or absolute form "http://host/path?query".
    if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
        size_t slash = target.find('/', target.find("//") + 2);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target[0] != '/' && !(target == "*" && method == "OPTIONS"))
        return bad(400, "malformed request target '" + std::string(target.substr(0, 80)) + "'");
    size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    req->query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
    req->path.clear();
    req->path.reserve(raw_path.size());
    for (size_t i = 0; i < raw_path.size(); ++i) {
        if (raw_path[i] != '%') {
            req->path += raw_path[i];
            continue;
        }
        int hi = i + 2 < raw_path.size() ? hex_digit(raw_path[i + 1]) : -1;
        int lo = hi >= 0 ? hex_digit(raw_path[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0))
            return bad(
                400, "malformed percent-encoding in '" + std::string(raw_path.substr(0, 80)) + "'");
        req->path += char(hi * 16 + lo);
        i += 2;
    }

    // Header fields.
    req->headers.clear();
    bool has_length = false, chunked = false, close = false, keep = false;
    uint64_t length = 0;
    while (next_line(buf, pos, line) && !line.empty()) {
        if (line[0] == ' ' || line[0] == '\t')
            return bad(400, "obsolete header line folding is not accepted");
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return bad(400, "malformed header line '" + std::string(line.substr(0, 80)) + "'");
        std::string name(line.substr(0, colon));
        for (char& c : name) {
            if (!is_token_char(c))
                return bad(400,
                           "malformed header name '" + std::string(line.substr(0, colon)) + "'");
            c = lower(c);
        }
        std::string_view value = trim(line.substr(colon + 1));
        if (name == "content-length") {
            if (value.empty() || value.size() > 19)
                return bad(400, "malformed Content-Length '" + std::string(value) + "'");
            uint64_t n = 0;
            for (char c : value) {
                if (c < '0' || c > '9')
                    return bad(400, "malformed Content-Length '" + std::string(value) + "'");
                n = n * 10 + uint64_t(c - '0');
            }
            if (has_length && n != length) return bad(400, "conflicting Content-Length headers");
            has_length = true;
            length = n;
        } else if (name == "transfer-encoding") {
            if (!iequals(value, "chunked"))
                return bad(501, "Transfer-Encoding '" + std::string(value) +
                                    "' is not supported (send chunked or a Content-Length)");
            chunked = true;
        } else if (name == "connection") {
            // A list of tokens: "close", "keep-alive", "Upgrade", ...
            std::string_view rest = value;
            while (!rest.empty()) {
                size_t comma = rest.find(',');
                std::string_view tok = trim(rest.substr(0, comma));
                if (iequals(tok, "close")) close = true;
                if (iequals(tok, "keep-alive")) keep = true;
                rest =
                    comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            }
        } else if (name == "expect") {
            if (!iequals(value, "100-continue"))
                return bad(417, "unsupported expectation '" + std::string(value) + "'");
        }
        req->headers.emplace_back(std::move(name), std::string(value));
    }
    if (chunked && has_length)
        return bad(400, "a request may not have both Content-Length and Transfer-Encoding");

    HttpParse p;
    p.keep_alive = req->minor >= 1 ? !close : keep && !close;
    if (has_length && length > max_body)
        return bad(413, "the request body is larger than the limit (" + std::to_string(max_body) +
                            " bytes)");
    bool wants_continue = req->minor >= 1 && !req->header("expect").empty();
    if (chunked) {
        size_t end = 0;
        HttpParse err;
        if (!parse_chunked(buf, body_at, max_body, end, nullptr, err)) {
            if (err.status == HttpParse::bad) return err;
            p.need = buf.size() + 1;
            p.expect_continue = wants_continue;
            return p;
        }
        req->body.clear();
        parse_chunked(buf, body_at, max_body, end, &req->body, err);
        p.status = HttpParse::complete;
        p.consumed = end;
        return p;
    }
    if (buf.size() - body_at < length) {
        p.need = body_at + length;
        p.expect_continue = wants_continue;
        return p;
    }
    req->body.assign(buf.data() + body_at, length);
    p.status = HttpParse::complete;
    p.consumed = body_at + length;
    return p;
}

void append_http_response(std::string& out, const HttpRequest& req, const HttpResponse& res,
                          bool keep_alive) {
    char line[64];
    int n = std::snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", res.status, reason(res.status));
    out.append(line, size_t(n));
    out += date_header();
    if (!res.content_type.empty()) {
        out += "Content-Type: ";
        out += res.content_type;
        out += "\r\n";
    }
    n = std::snprintf(line, sizeof line, "Content-Length: %zu\r\n", res.body.size());
    out.append(line, size_t(n));
    if (!keep_alive)
        out += "Connection: close\r\n";
    else if (req.minor == 0)
        out += "Connection: keep-alive\r\n";
    for (const auto& h : res.headers) {
        out += h.first;
        out += ": ";
        out += h.second;
        out += "\r\n";
    }
    out += "\r\n";
    if (req.method != "HEAD") out += res.body;
}

// ------------------------------------------------------------------------------ the server

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxPendingOut = 4 << 20;  // stop reading requests while this much is unsent

struct Loop;

struct Conn {
    int fd = -1;
    Loop* loop = nullptr;
    std::string in;
    size_t need = 0;  // parse again once `in` holds this many bytes
    std::string out;
    size_t out_off = 0;
    Clock::time_point last;
    uint32_t events = 0;     // what epoll watches for this connection
    bool busy = false;       // a request is with a handler thread
    bool dead = false;       // the peer went away while busy
    bool closing = false;    // close once `out` is sent
    bool lingering = false;  // write side shut: reading until EOF, then close
    bool continue_sent = false;
};

struct Job {
    Conn* conn;
    HttpRequest req;
    bool keep_alive;
};

struct Done {
    Conn* conn;
    std::string bytes;
    bool keep_alive;
};

}  // namespace

struct HttpServer::Impl {
    HttpOptions opt;
    Handler handler;
    int listen_fd = -1;
    std::mutex loops_mu;  // guards `loops` (stop() may come from any thread)
    std::vector<std::unique_ptr<Loop>> loops;
    std::atomic<bool> stopping{false};
    std::atomic<unsigned> next_loop{0};

    // Handler pool (handler_threads > 0).
    std::mutex job_mu;
    std::condition_variable job_cv;
    std::deque<Job> jobs;
    bool jobs_done = false;

    void call(const HttpRequest& req, HttpResponse& res) {
        try {
            handler(req, res);
        } catch (const std::exception& e) {
            res = HttpResponse();
            res.set(500, error_body(500, e.what()), "application/json");
        }
    }
    std::string error_body(int status, const std::string& message) const {
        if (opt.error_body) return opt.error_body(status, message);
        return message + "\n";
    }
    void pool_thread();
};

namespace {

struct Loop {
    HttpServer::Impl* srv = nullptr;
    bool accepts = false;
    int ep = -1;
    int wake = -1;
    std::thread thread;
    std::unordered_set<Conn*> conns;
    Clock::time_point now, last_sweep, drain_start;
    bool draining = false;
    char buf[64 << 10];

    std::mutex mu;  // guards incoming and done
    std::vector<int> incoming;
    std::vector<Done> done;

    ~Loop() {
        for (int fd : incoming)
            ::close(fd);
        for (Conn* c : conns) {
            ::close(c->fd);
            delete c;
        }
        if (ep >= 0) ::close(ep);
        if (wake >= 0) ::close(wake);
    }

    void poke() {
        uint64_t one = 1;
        ssize_t r = ::write(wake, &one, sizeof one);
        (void)r;
    }

    void set_events(Conn* c, uint32_t ev) {
        if (c->events == ev) return;
        epoll_event e{};
        e.events = ev;
        e.data.ptr = c;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        c->events = ev;
    }

    void add(int fd) {
        int yes = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        auto* c = new Conn;
        c->fd = fd;
        c->loop = this;
        c->last = now;
        c->events = EPOLLIN;
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.ptr = c;
        if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            ::close(fd);
            delete c;
            return;
        }
        conns.insert(c);
    }

    void close_conn(Conn* c) {
        if (c->busy) {  // the handler still has it; closed when its answer comes back
            c->dead = true;
            set_events(c, 0);
            return;
        }
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
        ::close(c->fd);
        conns.erase(c);
        delete c;
    }

    // Close after the response: shut the write side and read until the client closes, so
    // that unread request bytes do not turn the close into a reset that loses the response.
    void finish(Conn* c) {
        if (c->lingering) return;
        ::shutdown(c->fd, SHUT_WR);
        c->lingering = true;
        c->in.clear();
        c->last = now;
        set_events(c, EPOLLIN);
    }

    void accept_all() {
        // Hands connections round-robin to the loops; a burst of connections is spread
        // over all cores rather than landing on the loop that woke first.
        for (int i = 0; i < 64; ++i) {
            int fd = ::accept4(srv->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                return;  // EAGAIN, or out of descriptors (EMFILE): try again on the next event
            }
            Loop* to = srv->loops[srv->next_loop++ % srv->loops.size()].get();
            if (to == this) {
                add(fd);
            } else {
                {
                    std::lock_guard<std::mutex> lock(to->mu);
                    to->incoming.push_back(fd);
                }
                to->poke();
            }
        }
    }

    void flush(Conn* c) {
        while (c->out_off < c->out.size()) {
            ssize_t n =
                ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
            if (n > 0) {
                c->out_off += size_t(n);
                c->last = now;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                set_events(c, EPOLLOUT);
                return;
            }
            close_conn(c);
            return;
        }
        c->out.clear();
        c->out_off = 0;
        if (c->closing) return finish(c);
        set_events(c, c->busy ? 0u : uint32_t(EPOLLIN));
    }

    // Answers every complete request in `in` (pipelined requests are answered in order),
    // then sends what it can.
    void process(Conn* c) {
        while (!c->busy && !c->closing && c->out.size() - c->out_off < kMaxPendingOut) {
            if (c->in.empty() || c->in.size() < c->need) break;
            HttpRequest req;
            HttpParse p = parse_http_request(c->in, srv->opt.max_body, srv->opt.max_header, &req);
            if (p.status == HttpParse::incomplete) {
                c->need = p.need;
                if (p.expect_continue && !c->continue_sent) {
                    c->out += "HTTP/1.1 100 Continue\r\n\r\n";
                    c->continue_sent = true;
                }
                break;
            }
            c->need = 0;
            c->continue_sent = false;
            if (p.status == HttpParse::bad) {
                HttpResponse res;
                res.set(p.error_status, srv->error_body(p.error_status, p.error),
                        "application/json");
                append_http_response(c->out, req, res, false);
                c->closing = true;
                break;
            }
            c->in.erase(0, p.consumed);
            bool keep = p.keep_alive && !srv->stopping;
            if (srv->opt.handler_threads > 0) {
                c->busy = true;
                {
                    std::lock_guard<std::mutex> lock(srv->job_mu);
                    srv->jobs.push_back(Job{c, std::move(req), keep});
                }
                srv->job_cv.notify_one();
                break;
            }
            HttpResponse res;
            srv->call(req, res);
            append_http_response(c->out, req, res, keep);
            if (!keep) c->closing = true;
        }
        flush(c);
    }

    void readable(Conn* c) {
        while (true) {
            ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
            if (n > 0) {
                c->last = now;
                if (c->lingering) {
                    if (size_t(n) < sizeof buf) return;
                    continue;
                }
                c->in.append(buf, size_t(n));
                if (size_t(n) == sizeof buf && c->in.size() < c->need) continue;
                break;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            close_conn(c);  // EOF or error
            return;
        }
        process(c);
    }

    void completions() {
        std::vector<Done> ds;
        std::vector<int> fds;
        {
            std::lock_guard<std::mutex> lock(mu);
            ds.swap(done);
            fds.swap(incoming);
        }
        for (int fd : fds) {
            if (draining)
                ::close(fd);
            else
                add(fd);
        }
        for (Done& d : ds) {
            Conn* c = d.conn;
            c->busy = false;
            if (c->dead) {
                close_conn(c);
                continue;
            }
            c->out += d.bytes;
            if (!d.keep_alive || srv->stopping) c->closing = true;
            process(c);
        }
    }

    void sweep() {
        last_sweep = now;
        const auto& o = srv->opt;
        auto older = [&](Clock::time_point t, double seconds) {
            return now - t > std::chrono::duration<double>(seconds);
        };
        std::vector<Conn*> to_close;
        for (Conn* c : conns) {
            if (c->busy) continue;  // the handler has its own timeout
            bool idle = c->in.empty() && c->out_off == c->out.size();
            if (c->lingering) {
                if (older(c->last, 2) || (draining && older(drain_start, 2))) to_close.push_back(c);
            } else if (idle) {
                if (draining || older(c->last, o.keep_alive_timeout)) to_close.push_back(c);
            } else if (older(c->last, o.io_timeout) ||
                       (draining && older(drain_start, o.drain_timeout))) {
                to_close.push_back(c);
            }
        }
        for (Conn* c : to_close)
            close_conn(c);
    }

    void run() {
        epoll_event evs[256];
        now = last_sweep = Clock::now();
        while (true) {
            int n = ::epoll_wait(ep, evs, 256, draining ? 20 : 1000);
            now = Clock::now();
            if (srv->stopping && !draining) {
                draining = true;
                drain_start = now;
                if (accepts) {  // new connections are refused from now on
                    ::epoll_ctl(ep, EPOLL_CTL_DEL, srv->listen_fd, nullptr);
                    ::close(srv->listen_fd);
                    srv->listen_fd = -1;
                }
                sweep();
            }
            for (int i = 0; i < n; ++i) {
                void* tag = evs[i].data.ptr;
                if (tag == &srv->listen_fd) {
                    if (!draining) accept_all();
                    continue;
                }
                if (tag == this) {
                    uint64_t v;
                    ssize_t r = ::read(wake, &v, sizeof v);
                    (void)r;
                    completions();
                    continue;
                }
                Conn* c = static_cast<Conn*>(tag);
                if (!conns.count(c)) continue;  // closed by an earlier event of this batch
                uint32_t e = evs[i].events;
                if (c->busy && (e & (EPOLLHUP | EPOLLERR))) {
                    // Stop watching it (epoll reports a hang-up whatever the mask); it is
                    // closed when its handler is done.
                    ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
                    c->dead = true;
                    continue;
                }
                if (e & EPOLLOUT) {
                    flush(c);
                    if (conns.count(c) && c->out.empty() && !c->busy && !c->lingering) process(c);
                } else if (!c->busy) {
                    readable(c);
                }
            }
            if (draining || now - last_sweep > std::chrono::seconds(1)) sweep();
            if (draining && conns.empty()) {
                std::lock_guard<std::mutex> lock(mu);
                if (done.empty()) break;
            }
        }
    }
};

}  // namespace

void HttpServer::Impl::pool_thread() {
    while (true) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(job_mu);
            job_cv.wait(lock, [&] { return jobs_done || !jobs.empty(); });
            if (jobs.empty()) return;
            job = std::move(jobs.front());
            jobs.pop_front();
        }
        HttpResponse res;
        call(job.req, res);
        Done d{job.conn, std::string(), job.keep_alive && !stopping};
        append_http_response(d.bytes, job.req, res, d.keep_alive);
        Loop* loop = job.conn->loop;
        {
            std::lock_guard<std::mutex> lock(loop->mu);
            loop->done.push_back(std::move(d));
        }
        loop->poke();
    }
}

HttpServer::HttpServer(HttpOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
    impl_->opt = std::move(options);
    impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() {
    if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

int HttpServer::bind() {
    const HttpOptions& o = impl_->opt;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(o.port);
    int rc = ::getaddrinfo(o.host.empty() ? nullptr : o.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) throw Error("cannot listen on " + o.host + ": " + std::string(::gai_strerror(rc)));
    std::string why = "no address";
    int fd = -1;
    for (addrinfo* a = res; a; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = std::strerror(errno);
            continue;
        }
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, o.backlog) == 0) break;
        why = std::strerror(errno);
        ::close(fd);
        fd = -1;
    }
    ::freeaddrinfo(res);
    if (fd < 0)
        throw Error("cannot listen on " + o.host + ":" + port + ": " + why +
                    (o.port ? " (is the port in use, or the address not this machine's?)" : ""));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    impl_->listen_fd = fd;
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void HttpServer::run() {
    Impl& s = *impl_;
    if (s.listen_fd < 0) bind();
    unsigned n = s.opt.loops ? s.opt.loops : std::max(1u, std::thread::hardware_concurrency() / 2);
    std::vector<std::unique_ptr<Loop>> loops;
    for (unsigned i = 0; i < n; ++i) {
        auto l = std::make_unique<Loop>();
        l->srv = &s;
        l->accepts = i == 0;
        l->ep = ::epoll_create1(EPOLL_CLOEXEC);
        l->wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (l->ep < 0 || l->wake < 0) throw Error(std::string("epoll: ") + std::strerror(errno));
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.ptr = l.get();
        ::epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &e);
        if (l->accepts) {
            e.data.ptr = &s.listen_fd;
            ::epoll_ctl(l->ep, EPOLL_CTL_ADD, s.listen_fd, &e);
        }
        loops.push_back(std::move(l));
    }
    {
        std::lock_guard<std::mutex> lock(s.loops_mu);
        s.loops = std::move(loops);
    }
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < s.opt.handler_threads; ++i)
        pool.emplace_back([&s] { s.pool_thread(); });
    for (auto& l : s.loops)
        l->thread = std::thread([lp = l.get()] { lp->run(); });
    // A stop() that came before the loops were published.
    if (s.stopping)
        for (auto& l : s.loops)
            l->poke();
    for (auto& l : s.loops)
        l->thread.join();
    {
        std::lock_guard<std::mutex> lock(s.job_mu);
        s.jobs_done = true;
    }
    s.job_cv.notify_all();
    for (auto& t : pool)
        t.join();
    {
        std::lock_guard<std::mutex> lock(s.loops_mu);
        s.loops.clear();
    }
    if (s.listen_fd >= 0) ::close(s.listen_fd);
    s.listen_fd = -1;
}

void HttpServer::stop() {
    impl_->stopping = true;
    std::lock_guard<std::mutex> lock(impl_->loops_mu);
    for (auto& l : impl_->loops)
        l->poke();
}

}  // namespace mlo::core
