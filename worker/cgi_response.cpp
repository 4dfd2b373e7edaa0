#include "worker/cgi_response.hpp"
#include "worker/ascii.hpp"

#include <limits>

namespace drover {

std::string cgi_head(const ResponseHead& head)
{
    std::string out = "Status: ";
    if (!head.status_line.empty()) {
        out += head.status_line;
    } else {
        out += std::to_string(head.status);
        out += ' ';
        out += status_reason(head.status);
    }
    out += "\r\n";
    bool has_length = false;
    if (head.headers) {
        for (const auto& [name, value] : *head.headers) {
            has_length = has_length || ascii_iequals(name, "content-length");
            out += name;
            out += ": ";
            out += value;
            out += "\r\n";
        }
    }
    // The frontend then frames the body to its client without chunking.
    if (!has_length && head.content_length >= 0 && head.status >= 200 && head.status != 204 && head.status != 304)
        out += "Content-Length: " + std::to_string(head.content_length) + "\r\n";
    out += "\r\n";
    return out;
}

std::string cgi_error_response(int status, bool head_request)
{
    const std::string line = std::to_string(status) + " " + std::string(status_reason(status));
    const std::string body = line + "\n";
    std::string text = "Status: " + line + "\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n";
    if (!head_request)
        text += body;
    return text;
}

std::optional<int64_t> parse_cgi_length(std::string_view s)
{
    if (s.empty())
        return std::nullopt;
    int64_t value = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const int digit = c - '0';
        if (value > (std::numeric_limits<int64_t>::max() - digit) / 10)
            return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

} // namespace drover
