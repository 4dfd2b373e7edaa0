// Request header fields into CGI params (RFC 3875 §4.1.18): Content-Type ->
// CONTENT_TYPE, X-Foo -> HTTP_X_FOO, values without their surrounding
// whitespace, repeated fields joined, fields that take one value refused
// when repeated, and the number of fields capped.
//
// The head of a request is the one input a client controls entirely before
// any timeout or the app sees it, so every step here is linear in its size:
// a repeated name is found through an index, not by comparing it with every
// earlier field (which made 13 000 tiny fields cost a second of CPU).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "worker/request.hpp"

namespace drover {

/// Where each CGI name already is in a param list: open addressing over
/// positions, cleared in O(1) per request by a generation stamp.
class HeaderIndex {
public:
    static constexpr size_t npos = static_cast<size_t>(-1);

    /// Forgets every name.
    void clear();
    /// The position of name in params, or npos.
    size_t find(const std::vector<Param>& params, std::string_view name, uint32_t hash) const;
    /// Records that the name at position (not recorded yet) has this hash.
    void insert(uint32_t hash, size_t position);

    static uint32_t hash(std::string_view name);

private:
    struct Entry {
        uint32_t generation = 0;  // stale unless equal to generation_
        uint32_t hash = 0;
        uint32_t position = 0;
    };
    void grow();

    std::vector<Entry> entries_;  // size 0 or a power of two, at most half full
    uint32_t generation_ = 1;
    size_t used_ = 0;
};

/// Why a field was refused.
enum class FieldError {
    none,
    too_many,    ///< more than max_header_count fields: 431
    repeated,    ///< a second field of a kind that takes one value: 400
    empty_name,  ///< ": value" (a field-name is a token, RFC 9110 §5.1): 400
};

/// Turns one request's header fields into CGI params, in arrival order.
class CgiFields {
public:
    explicit CgiFields(uint32_t max_count) : max_count_(max_count) {}

    /// Starts a request whose params go to params.
    void start(std::vector<Param>& params);
    /// One field line, name and value as received.
    FieldError add(std::string_view name, std::string_view value);

    /// The param of a CGI name ("HTTP_HOST") whose HeaderIndex::hash() is
    /// hash, or nullptr.
    std::string* find(std::string_view cgi_name, uint32_t hash);
    /// The last field add() refused, for the log.
    std::string_view refused_name() const { return cgi_name_; }

    bool expect_continue() const { return expect_continue_; }

private:
    uint32_t max_count_;
    std::vector<Param>* params_ = nullptr;
    HeaderIndex index_;
    std::string cgi_name_;  // reused: no allocation per field once warm
    uint32_t count_ = 0;
    bool expect_continue_ = false;
};

/// What a request's Transfer-Encoding (all its field lines joined) asks for.
enum class TransferCoding {
    chunked,        ///< "chunked" alone: the one coding drover decodes
    not_chunked,    ///< chunked missing, not last or twice, or an empty list: 400 (RFC 9112 §6.3)
    unimplemented,  ///< other codings before the final chunked: 501 (RFC 9112 §6.1)
};
TransferCoding classify_transfer_coding(std::string_view value);

/// The value without leading and trailing SP and HTAB (RFC 9110 §5.5: they
/// are not part of it).
std::string_view trim_ows(std::string_view value);

} // namespace drover
