// The master's HTTP endpoint for monitoring: GET /metrics (Prometheus text
// format), /healthz (200 or 503 with a reason) and /status (JSON), served by
// evhttp on the master's own event loop. Each answer is computed on request
// from a fresh PoolState; nothing is cached between scrapes.
//
// And the one control it takes: POST /drain makes /healthz answer 503 (so
// that a load balancer's health check takes the host out) while drover goes
// on serving, DELETE /drain ends it, GET /drain tells. Only loopback peers
// may use /drain: the metrics address is often open to a Prometheus on
// another host, which must not be able to take this one out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metrics/accept_pause.hpp"
#include "metrics/collector.hpp"
#include "metrics/pool_control.hpp"
#include "metrics/pool_state.hpp"

struct event_base;
struct sockaddr;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

namespace drover {

class MetricsServer {
public:
    /// Binds `address` ("HOST:PORT" or "[V6]:PORT"; port 0 picks a free
    /// one) and registers the handlers on `base`. `base`, `source` and
    /// `control` must outlive the server; without `control` there is no
    /// /drain (404). Throws std::runtime_error naming the address and the
    /// errno text when the address is malformed or cannot be bound.
    MetricsServer(event_base* base, const std::string& address, const PoolStateSource& source,
                  PoolControl* control = nullptr);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    /// The listening socket: a forked child closes it (evhttp owns it in the master).
    int fd() const;
    /// The bound port (the real one when 0 was asked for).
    uint16_t port() const;

private:
    struct HttpFree {
        void operator()(evhttp* http) const noexcept;
    };

    static void on_request(evhttp_request* request, void* self);
    void serve(evhttp_request* request);
    void serve_drain(evhttp_request* request);

    const PoolStateSource& source_;
    PoolControl* control_;
    std::unique_ptr<evhttp, HttpFree> http_;
    evhttp_bound_socket* bound_ = nullptr;  // owned by http_
    // After http_: destroyed first, while the listener it watches still exists.
    std::unique_ptr<AcceptPause> accept_pause_;
    PoolPeaks peaks_;                       // maxima seen at scrapes of /metrics and /status
    PoolCollector collector_{source_, &peaks_};
};

/// Is this peer the host itself: 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104?
/// (Who may use /drain.) False for nullptr and for other families.
bool loopback_peer(const sockaddr* peer);

} // namespace drover
