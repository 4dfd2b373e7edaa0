#include "metrics/server.hpp"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string_view>

#include "base/log.hpp"
#include "metrics/exposition.hpp"
#include "metrics/status.hpp"

namespace drover {

namespace {

// A scrape is a small GET; anything bigger is not a monitoring client.
constexpr ev_ssize_t kMaxHeadersSize = 8192;
constexpr ev_ssize_t kMaxBodySize = 4096;
// Seconds an idle or slow connection may hold a slot in the master's loop.
constexpr int kConnectionTimeout = 10;

struct HostPort {
    std::string host;
    uint16_t port = 0;
};

/// "HOST:PORT" or "[V6]:PORT"; the config has validated it, this only splits.
HostPort split_address(const std::string& address)
{
    auto fail = [&]() -> HostPort {
        throw std::runtime_error(cat("metrics address '", address, "': expected HOST:PORT or [V6]:PORT"));
    };
    std::string_view text(address);
    std::string_view host, port;
    if (text.starts_with('[')) {
        size_t close = text.find(']');
        if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
            return fail();
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return fail();
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), value);
    if (host.empty() || port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || value > 65535)
        return fail();
    return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

void reply(evhttp_request* request, int code, const char* reason, const char* content_type, std::string_view body)
{
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    evhttp_add_header(headers, "Content-Type", content_type);
    // Every answer is computed now; a cache in between would show old state.
    evhttp_add_header(headers, "Cache-Control", "no-store");
    // evhttp adds Content-Length only for HTTP/1.1 and keep-alive, and
    // libevent 2.1 writes whatever is in the output buffer even to a HEAD:
    // so the length is set here always, and a HEAD gets no body.
    char length[24];
    auto r = std::to_chars(length, length + sizeof length - 1, body.size());
    *r.ptr = '\0';
    evhttp_add_header(headers, "Content-Length", length);
    if (evhttp_request_get_command(request) != EVHTTP_REQ_HEAD)
        evbuffer_add(evhttp_request_get_output_buffer(request), body.data(), body.size());
    evhttp_send_reply(request, code, reason, nullptr);
}

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

} // namespace

void MetricsServer::HttpFree::operator()(evhttp* http) const noexcept { evhttp_free(http); }

MetricsServer::MetricsServer(event_base* base, const std::string& address, const PoolStateSource& source,
                             PoolControl* control)
    : source_(source), control_(control)
{
    HostPort where = split_address(address);
    http_.reset(evhttp_new(base));
    if (!http_)
        throw std::runtime_error(cat("metrics: evhttp_new() failed for ", address));
    evhttp_set_max_headers_size(http_.get(), kMaxHeadersSize);
    evhttp_set_max_body_size(http_.get(), kMaxBodySize);
    evhttp_set_timeout(http_.get(), kConnectionTimeout);
    // Let every method reach on_request, which answers 405 with an Allow
    // header; evhttp itself would answer a disallowed method with 501.
    evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                                EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(http_.get(), &MetricsServer::on_request, this);

    errno = 0;
    bound_ = evhttp_bind_socket_with_handle(http_.get(), where.host.c_str(), where.port);
    if (bound_ == nullptr) {
        int err = errno;
        // A name that does not resolve fails in getaddrinfo(), with no errno.
        throw std::runtime_error(cat("metrics: cannot listen on ", address, ": ",
                                     err != 0 ? std::strerror(err) : "address not usable (bind failed)"));
    }
    // Out of fds, accept() fails and the socket stays readable: without this
    // the loop would retry at once, at full CPU and a log line per turn.
    accept_pause_ = std::make_unique<AcceptPause>(evhttp_bound_socket_get_listener(bound_), cat("metrics ", address));
    // libevent writes at most 16 KiB per writev, so a /metrics body past that
    // (about 40 workers) leaves in two segments; with Nagle on, the short
    // second one waits for the client's delayed ACK: 40 ms per scrape. Linux
    // copies TCP_NODELAY from the listening socket to every accepted one.
    int one = 1;
    if (::setsockopt(fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        log_warning("metrics: setsockopt(TCP_NODELAY) on ", address, " failed: ", std::strerror(errno));
}

MetricsServer::~MetricsServer() = default;

int MetricsServer::fd() const { return evhttp_bound_socket_get_fd(bound_); }

uint16_t MetricsServer::port() const
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        return 0;
    if (addr.ss_family == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    return 0;
}

void MetricsServer::on_request(evhttp_request* request, void* self)
{
    // An exception must not unwind through libevent's C frames.
    try {
        static_cast<MetricsServer*>(self)->serve(request);
    } catch (const std::exception& e) {
        log_error("metrics: answering ", evhttp_request_get_uri(request), " failed: ", e.what());
        reply(request, 500, "Internal Server Error", kTextPlain, "internal error\n");
    }
}

void MetricsServer::serve(evhttp_request* request)
{
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
    const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    std::string_view path = raw_path != nullptr ? raw_path : "";

    enum class Page { metrics, healthz, status, drain, none };
    Page page = path == "/metrics"                     ? Page::metrics
              : path == "/healthz"                     ? Page::healthz
              : path == "/status"                      ? Page::status
              : path == "/drain" && control_ != nullptr ? Page::drain
                                                       : Page::none;
    if (page == Page::none) {
        reply(request, 404, "Not Found", kTextPlain,
              control_ != nullptr ? "not found: try /metrics, /healthz, /status or /drain\n"
                                  : "not found: try /metrics, /healthz or /status\n");
        return;
    }
    if (page == Page::drain) {
        serve_drain(request);
        return;
    }
    evhttp_cmd_type method = evhttp_request_get_command(request);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
        reply(request, 405, "Method Not Allowed", kTextPlain, "method not allowed: use GET\n");
        return;
    }

    if (page == Page::metrics) {
        // The collectable asks the source for the pool state itself.
        reply(request, 200, "OK", kExpositionContentType, serialize(collector_.Collect()));
        return;
    }
    PoolState pool = source_.pool_state();
    if (page == Page::status) {
        reply(request, 200, "OK", "application/json", status_json(pool, &peaks_));
        return;
    }
    HealthAnswer answer = health(pool);
    reply(request, answer.status, answer.status == 200 ? "OK" : "Service Unavailable", kTextPlain, answer.body);
}

void MetricsServer::serve_drain(evhttp_request* request)
{
    evhttp_connection* connection = evhttp_request_get_connection(request);
    const sockaddr* peer = connection != nullptr ? evhttp_connection_get_addr(connection) : nullptr;
    if (!loopback_peer(peer)) {
        reply(request, 403, "Forbidden", kTextPlain, "forbidden: /drain answers loopback peers only\n");
        return;
    }
    evhttp_cmd_type method = evhttp_request_get_command(request);
    if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) {
        bool draining = source_.pool_state().draining;
        reply(request, 200, "OK", kTextPlain, draining ? "draining\n" : "not draining\n");
        return;
    }
    if (method != EVHTTP_REQ_POST && method != EVHTTP_REQ_DELETE) {
        evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD, POST, DELETE");
        reply(request, 405, "Method Not Allowed", kTextPlain,
              "method not allowed: POST /drain starts draining, DELETE /drain ends it, GET /drain tells\n");
        return;
    }
    bool drain = method == EVHTTP_REQ_POST;
    // The master acts on it in its next tick, which runs before this loop
    // reads another request: whoever reads /healthz or /status after this
    // answer sees the new state.
    if (!control_->request_drain(drain, drain ? "POST /drain" : "DELETE /drain")) {
        reply(request, 503, "Service Unavailable", kTextPlain, "busy: the master has too much to do; try again\n");
        return;
    }
    reply(request, 200, "OK", kTextPlain,
          drain ? "draining: /healthz answers 503 from now on; requests are still served; DELETE /drain ends it\n"
                : "not draining: /healthz answers for the pool again\n");
}

bool loopback_peer(const sockaddr* peer)
{
    if (peer == nullptr)
        return false;
    if (peer->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(peer);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (peer->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer);
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

} // namespace drover
