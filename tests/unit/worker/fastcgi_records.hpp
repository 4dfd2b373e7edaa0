// FastCGI records built and decoded by hand, independently of the codec's
// own encoder, for the tests that speak FastCGI to drover.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "worker/fastcgi.hpp"

namespace drover::test::fcgi_records {

// Records are built here by hand, independently of the codec's own encoder.

inline std::string record(uint8_t type, uint16_t id, std::string_view content, int padding = -1, char pad_byte = '\0')
{
    const size_t pad = padding < 0 ? (8 - content.size() % 8) % 8 : static_cast<size_t>(padding);
    std::string r;
    r += static_cast<char>(1);
    r += static_cast<char>(type);
    r += static_cast<char>(id >> 8);
    r += static_cast<char>(id & 0xff);
    r += static_cast<char>(content.size() >> 8);
    r += static_cast<char>(content.size() & 0xff);
    r += static_cast<char>(pad);
    r += '\0';
    r += content;
    r.append(pad, pad_byte);
    return r;
}

inline std::string length(size_t n, bool four)
{
    if (!four) {
        EXPECT_LT(n, 128u);
        return std::string(1, static_cast<char>(n));
    }
    std::string out;
    out += static_cast<char>(0x80 | (n >> 24));
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
    return out;
}

inline std::string nv(std::string_view name, std::string_view value)
{
    return length(name.size(), name.size() > 127) + length(value.size(), value.size() > 127) + std::string(name) +
           std::string(value);
}

inline std::string nv4(std::string_view name, std::string_view value)
{
    return length(name.size(), true) + length(value.size(), true) + std::string(name) + std::string(value);
}

inline std::string begin(uint16_t id, uint16_t role = fcgi::kResponder, uint8_t flags = fcgi::kKeepConn)
{
    const char body[8] = {static_cast<char>(role >> 8), static_cast<char>(role & 0xff), static_cast<char>(flags), 0, 0, 0,
                          0, 0};
    return record(fcgi::kBeginRequest, id, std::string_view(body, 8));
}

inline std::string params(uint16_t id, std::string_view stream)
{
    return record(fcgi::kParams, id, stream) + record(fcgi::kParams, id, "");
}

inline std::string stdin_records(uint16_t id, std::string_view body)
{
    return (body.empty() ? std::string() : record(fcgi::kStdin, id, body)) + record(fcgi::kStdin, id, "");
}

/// A complete POST request as nginx sends it.
inline std::string post_request(uint16_t id, std::string_view body, uint8_t flags = fcgi::kKeepConn)
{
    return begin(id, fcgi::kResponder, flags) +
           params(id, nv("REQUEST_METHOD", "POST") + nv("CONTENT_LENGTH", std::to_string(body.size())) +
                          nv("SCRIPT_NAME", "/app")) +
           stdin_records(id, body);
}

struct Record {
    uint8_t version = 0;
    uint8_t type = 0;
    uint16_t id = 0;
    std::string content;
    std::string padding;
};

/// Decodes a record stream; a truncated stream fails the test.
inline std::vector<Record> decode(std::string_view bytes)
{
    std::vector<Record> out;
    while (!bytes.empty()) {
        if (bytes.size() < 8) {
            ADD_FAILURE() << "truncated record header";
            return out;
        }
        const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
        Record r;
        r.version = b[0];
        r.type = b[1];
        r.id = static_cast<uint16_t>(b[2] << 8 | b[3]);
        const size_t content_length = static_cast<size_t>(b[4] << 8 | b[5]);
        const size_t padding = b[6];
        if (bytes.size() < 8 + content_length + padding) {
            ADD_FAILURE() << "truncated record content";
            return out;
        }
        r.content = std::string(bytes.substr(8, content_length));
        r.padding = std::string(bytes.substr(8 + content_length, padding));
        out.push_back(r);
        bytes.remove_prefix(8 + content_length + padding);
    }
    return out;
}

} // namespace drover::test::fcgi_records
