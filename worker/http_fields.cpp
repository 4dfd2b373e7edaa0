#include "worker/http_fields.hpp"

#include <algorithm>

#include "worker/ascii.hpp"

namespace drover {

// ---------------------------------------------------------------- HeaderIndex

uint32_t HeaderIndex::hash(std::string_view name)
{
    uint32_t h = 2166136261u;  // FNV-1a: short keys, no need for more
    for (char c : name) {
        h ^= static_cast<unsigned char>(c);
        h *= 16777619u;
    }
    return h;
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

void CgiFields::start(std::vector<Param>& params)
{
    params_ = &params;
    index_.clear();
    count_ = 0;
    expect_continue_ = false;
}

FieldError CgiFields::add(std::string_view name, std::string_view value)
{
    // Counted before anything else, dropped fields too: the cap bounds the
    // work of a head, whatever its fields say.
    if (++count_ > max_count_)
        return FieldError::too_many;
    // A name with '_' could pose as another header once '-' becomes '_'
    // (X_Forwarded_For vs X-Forwarded-For): dropped, as nginx and gunicorn do.
    if (name.empty() || name.find('_') != std::string_view::npos)
        return FieldError::none;
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
        if (cgi_name_ == "HTTP_HOST")
            return FieldError::repeated_host;  // would join into one "a, b" SERVER_NAME
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
