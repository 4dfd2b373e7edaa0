// The master's HTTP endpoint for monitoring: GET /metrics (Prometheus text
// format), /healthz (200 or 503 with a reason) and /status (JSON), served by
// evhttp on the master's own event loop. Each answer is computed on request
// from a fresh PoolState; nothing is cached between scrapes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "metrics/accept_pause.hpp"
#include "metrics/collector.hpp"
#include "metrics/pool_state.hpp"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

namespace drover {

class MetricsServer {
public:
    /// Binds `address` ("HOST:PORT" or "[V6]:PORT"; port 0 picks a free
    /// one) and registers the handlers on `base`. `base` and `source` must
    /// outlive the server. Throws std::runtime_error naming the address and
    /// the errno text when the address is malformed or cannot be bound.
    MetricsServer(event_base* base, const std::string& address, const PoolStateSource& source);
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

    const PoolStateSource& source_;
    std::unique_ptr<evhttp, HttpFree> http_;
    evhttp_bound_socket* bound_ = nullptr;  // owned by http_
    // After http_: destroyed first, while the listener it watches still exists.
    std::unique_ptr<AcceptPause> accept_pause_;
    PoolPeaks peaks_;                       // maxima seen at scrapes of /metrics and /status
    PoolCollector collector_{source_, &peaks_};
};

} // namespace drover
