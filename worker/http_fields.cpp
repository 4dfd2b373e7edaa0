#include "worker/http_fields.hpp"

#include <algorithm>
#include <cstring>

#include "worker/ascii.hpp"

namespace drover {

// ---------------------------------------------------------------- HeaderIndex

uint32_t HeaderIndex::hash(std::string_view name)
{
    // Eight bytes a step, each mixed in whole (no cheaper to collide on
    // purpose than FNV, which went a byte at a time and showed in profiles).
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (name.size() * 0xff51afd7ed558ccdull);
    size_t i = 0;
    for (; i + 8 <= name.size(); i += 8) {
        uint64_t w;
        std::memcpy(&w, name.data() + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    if (i < name.size()) {
        uint64_t w = 0;
        std::memcpy(&w, name.data() + i, name.size() - i);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return static_cast<uint32_t>(h ^ (h >> 32));
}

void HeaderIndex::clear()
{
    used_ = 0;
    if (++generation_ == 0) {
        // Wrapped after 2^32 requests: entries stamped long ago would look live.
        for (Entry& e : entries_)
            e.generation = 0;
        generation_ = 1;
    }
}

size_t HeaderIndex::find(const std::vector<Param>& params, std::string_view name, uint32_t hash) const
{
    if (entries_.empty())
        return npos;
    const size_t mask = entries_.size() - 1;
    for (size_t i = hash & mask; entries_[i].generation == generation_; i = (i + 1) & mask) {
        const Entry& e = entries_[i];
        if (e.hash == hash && params[e.position].first == name)
            return e.position;
    }
    return npos;
}

void HeaderIndex::insert(uint32_t hash, size_t position)
{
    if ((used_ + 1) * 2 > entries_.size())
        grow();
    const size_t mask = entries_.size() - 1;
    size_t i = hash & mask;
    while (entries_[i].generation == generation_)
        i = (i + 1) & mask;
    entries_[i] = Entry{generation_, hash, static_cast<uint32_t>(position)};
    ++used_;
}

void HeaderIndex::grow()
{
    std::vector<Entry> old = std::move(entries_);
    entries_.assign(std::max<size_t>(32, old.size() * 2), Entry{});
    const size_t mask = entries_.size() - 1;
    for (const Entry& e : old) {
        if (e.generation != generation_)
            continue;
        size_t i = e.hash & mask;
        while (entries_[i].generation == generation_)
            i = (i + 1) & mask;
        entries_[i] = e;
    }
}

// ---------------------------------------------------------------- CgiFields

namespace {

// Fields of RFC 9110 that a request carries once: their grammar is one value,
// not a list (§5.3), so a repeat cannot be joined with ", " into anything
// meaningful, and two copies are how a request means one thing to a front end
// and another to the app (two Hosts, two Authorizations, two Content-Types).
// Refused with 400 even when the copies are equal, as llhttp does for
// Content-Length. List fields (Accept, Cache-Control, ...) are joined, and
// Cookie too (RFC 6265 §5.4 lets HTTP/2 front ends split it).
bool singleton(std::string_view cgi_name)
{
    static constexpr std::string_view kNames[] = {
        "HTTP_HOST",                 // RFC 9112 §3.2
        "CONTENT_LENGTH",            // RFC 9110 §8.6 (a list of equal values: refused too)
        "CONTENT_TYPE",              // §8.3
        "HTTP_CONTENT_LOCATION",     // §8.7
        "HTTP_CONTENT_RANGE",        // §14.4
        "HTTP_AUTHORIZATION",        // §11.6.2
        "HTTP_PROXY_AUTHORIZATION",  // §11.7.2
        "HTTP_DATE",                 // §6.6.1
        "HTTP_FROM",                 // §10.1.2
        "HTTP_REFERER",              // §10.1.3
        "HTTP_USER_AGENT",           // §10.1.5
        "HTTP_MAX_FORWARDS",         // §7.6.2
        "HTTP_IF_MODIFIED_SINCE",    // §13.1.3
        "HTTP_IF_UNMODIFIED_SINCE",  // §13.1.4
        "HTTP_IF_RANGE",             // §13.1.5
        "HTTP_RANGE",                // §14.2
    };
    for (std::string_view n : kNames)
        if (n == cgi_name)
            return true;
    return false;
}

} // namespace

std::string_view trim_ows(std::string_view value)
{
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    return value;
}

TransferCoding classify_transfer_coding(std::string_view value)
{
    // transfer-coding list (RFC 9110 §10.1.4, §5.6.1): empty elements are
    // ignored; a coding with parameters is not "chunked".
    size_t codings = 0;
    bool chunked_last = false;
    while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view element = trim_ows(value.substr(0, comma));
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        if (element.empty())
            continue;
        if (chunked_last)
            return TransferCoding::not_chunked;  // chunked before another coding, or twice
        ++codings;
        chunked_last = ascii_iequals(element, "chunked");
    }
    if (!chunked_last)
        return TransferCoding::not_chunked;
    return codings == 1 ? TransferCoding::chunked : TransferCoding::unimplemented;
}

void CgiFields::start(std::vector<Param>& params)
{
    params_ = &params;
    index_.clear();
    count_ = 0;
    expect_continue_ = false;
}

std::string* CgiFields::find(std::string_view cgi_name, uint32_t hash)
{
    const size_t at = index_.find(*params_, cgi_name, hash);
    return at == HeaderIndex::npos ? nullptr : &(*params_)[at].second;
}

FieldError CgiFields::add(std::string_view name, std::string_view value)
{
    // Counted before anything else, dropped fields too: the cap bounds the
    // work of a head, whatever its fields say.
    if (++count_ > max_count_)
        return FieldError::too_many;
    // A name with '_' could pose as another header once '-' becomes '_'
    // (X_Forwarded_For vs X-Forwarded-For): dropped, as nginx and gunicorn do.
    if (name.empty())
        return FieldError::empty_name;
    if (name.find('_') != std::string_view::npos)
        return FieldError::none;
    value = trim_ows(value);
    if (ascii_iequals(name, "expect") && ascii_iequals(value, "100-continue"))
        expect_continue_ = true;

    if (ascii_iequals(name, "content-type")) {
        cgi_name_ = "CONTENT_TYPE";
    } else if (ascii_iequals(name, "content-length")) {
        cgi_name_ = "CONTENT_LENGTH";
    } else {
        cgi_name_ = "HTTP_";
        for (char c : name)
            cgi_name_.push_back(c == '-' ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c);
    }
    const uint32_t hash = HeaderIndex::hash(cgi_name_);
    const size_t at = index_.find(*params_, cgi_name_, hash);
    if (at != HeaderIndex::npos) {
        if (singleton(cgi_name_))
            return FieldError::repeated;
        // RFC 9110 §5.3 joins repeated fields with ", "; Cookie is the
        // exception (RFC 6265 §5.4: "; ").
        (*params_)[at].second.append(cgi_name_ == "HTTP_COOKIE" ? "; " : ", ").append(value);
        return FieldError::none;
    }
    params_->emplace_back(cgi_name_, value);
    index_.insert(hash, params_->size() - 1);
    return FieldError::none;
}

} // namespace drover
