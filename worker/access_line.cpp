#include "worker/access_line.hpp"

#include <cstdio>

#include "base/log.hpp"

namespace drover {

namespace {

void append_escaped(std::string& out, std::string_view s)
{
    for (unsigned char c : s) {
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out.append(buf);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
}

void append_field(std::string& out, std::string_view s) { append_escaped(out, s.empty() ? std::string_view("-") : s); }

} // namespace

std::string format_access_line(const AccessRecord& a)
{
    const Request& r = *a.request;
    std::string line;
    line.reserve(256);
    append_field(line, a.client);
    line.append(" - - [").append(format_timestamp(a.time_ns)).append("] \"");
    append_escaped(line, r.param("REQUEST_METHOD"));
    line.push_back(' ');
    std::string_view uri = r.param("REQUEST_URI");
    if (uri.empty()) {
        append_escaped(line, r.param("SCRIPT_NAME"));
        append_escaped(line, r.param("PATH_INFO"));
        if (!r.param("QUERY_STRING").empty()) {
            line.push_back('?');
            append_escaped(line, r.param("QUERY_STRING"));
        }
    } else {
        append_escaped(line, uri);
    }
    line.push_back(' ');
    append_field(line, r.param("SERVER_PROTOCOL"));
    line.append("\" ").append(std::to_string(a.status)).push_back(' ');
    line.append(std::to_string(a.response_bytes)).append(" \"");
    append_field(line, r.param("HTTP_REFERER"));
    line.append("\" \"");
    append_field(line, r.param("HTTP_USER_AGENT"));
    char tail[96];
    std::snprintf(tail, sizeof tail, "\" %.3f %ld %s\n", static_cast<double>(a.duration_us) / 1000.0,
                  static_cast<long>(a.worker_pid), protocol_name(r.protocol));
    line.append(tail);
    return line;
}

} // namespace drover
