#include "worker/http_response.hpp"

#include <time.h>

#include <cstdio>
#include <string>

#include "worker/ascii.hpp"

namespace drover {

namespace {

/// "Thu, 26 Nov 2026 10:02:22 GMT", recomputed at most once a second.
std::string_view http_date()
{
    static time_t cached_at = 0;
    static char buf[40];
    time_t now = ::time(nullptr);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    return buf;
}

} // namespace

void HttpResponseFramer::write_head(const ResponseHead& head, HttpExchange& exchange, Output& out)
{
    no_body_ = exchange.head || head.status < 200 || head.status == 204 || head.status == 304;
    chunked_ = false;
    bool app_sent_length = false;
    std::string h;
    h.reserve(256);
    h.append("HTTP/1.1 ").append(head.status_line).append("\r\n");
    if (head.headers) {
        for (const auto& [name, value] : *head.headers) {
            if (ascii_iequals(name, "content-length"))
                app_sent_length = true;
            h.append(name).append(": ").append(value).append("\r\n");
        }
    }
    if (!no_body_ || exchange.head) {
        if (head.content_length >= 0) {
            if (!app_sent_length)
                h.append("Content-Length: ").append(std::to_string(head.content_length)).append("\r\n");
        } else if (!no_body_ && exchange.http_minor >= 1 && exchange.http_major == 1) {
            h.append("Transfer-Encoding: chunked\r\n");
            chunked_ = true;
        } else if (!no_body_) {
            exchange.keep_alive = false;  // the body ends when the connection does
        }
    }
    if (!exchange.keep_alive)
        h.append("Connection: close\r\n");
    else if (exchange.http_minor == 0)
        h.append("Connection: keep-alive\r\n");
    h.append("Date: ").append(http_date()).append("\r\n\r\n");
    out.copy(h);
}

void HttpResponseFramer::write_body(std::string_view data, Output& out)
{
    if (no_body_ || data.empty())
        return;
    if (chunked_) {
        char size[24];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        out.copy(std::string_view(size, static_cast<size_t>(n)));
        out.borrow(data);
        out.copy("\r\n");
    } else {
        out.borrow(data);
    }
}

void HttpResponseFramer::write_end(Output& out)
{
    if (chunked_ && !no_body_)
        out.copy("0\r\n\r\n");
    chunked_ = false;
}

void HttpResponseFramer::write_error(int status, HttpExchange& exchange, Output& out)
{
    exchange.keep_alive = false;
    const std::string line = std::to_string(status) + " " + std::string(status_reason(status));
    const std::string body = line + "\n";
    out.copy("HTTP/1.1 " + line + "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\nConnection: close\r\n\r\n");
    // exchange.head is the request being answered, once its method is read
    // (RFC 9110 §9.3.2: no content for a HEAD), never an earlier one.
    if (!exchange.head)
        out.copy(body);
}

} // namespace drover
