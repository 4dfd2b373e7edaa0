// Line endings of an HTTP/1.1 request, checked on every byte that is not
// content: the request line, the field lines, the empty line, chunk-size
// lines, the CRLF after chunk data, trailer lines and the final CRLF.
//
// In all of those, RFC 9112 only ever puts CR and LF together, as CRLF, and
// never starts a line with whitespace. llhttp (8.1, strict) checks most of it
// but accepts a bare LF as the end of the request line, of the head and of
// the trailer section, and accepts obs-fold. Each of those is a place where a
// front end that reads the bytes differently would see other message
// boundaries than drover (request smuggling), so one rule covers them all:
//
// - a CR not followed by LF is a bare CR: 400 (§2.2 allows rejecting it);
// - an LF not preceded by CR is a bare LF: 400 (§2.2 allows, does not
//   require, accepting it; drover does not);
// - SP or HTAB right after a CRLF is obs-fold, or whitespace before the first
//   field line: 400 (§5.2 lets a server reject obs-fold; §2.2 says to reject
//   the latter). Rejecting obs-fold everywhere, also in trailers, keeps one
//   answer for it.
//
// And in the request line, whose parts are separated by exactly one SP (§3),
// where llhttp takes several: no SP first, last or next to another (a line
// read differently by a front end is not to be autocorrected, §3).
//
// Being byte-level, these checks do not depend on where llhttp happens to
// call back, so a request is judged the same however its bytes were cut.
#pragma once

#include <cstring>

namespace drover {

class LineGuard {
public:
    /// The next bytes begin a request (empty lines, then its request line).
    void start_head()
    {
        in_request_line_ = true;
        line_empty_ = true;
        after_space_ = false;
    }

    /// Checks non-content bytes; nullptr when they are fine, or what is wrong.
    const char* scan(const char* begin, const char* end)
    {
        for (const char* p = begin; p != end; ++p) {
            if (after_ == After::other && !in_request_line_) {
                // Inside a field line: jump to its CR (memchr, not a byte
                // loop: this runs over every byte of every head).
                const size_t left = static_cast<size_t>(end - p);
                const char* cr = static_cast<const char*>(std::memchr(p, '\r', left));
                const size_t upto = cr ? static_cast<size_t>(cr - p) : left;
                if (std::memchr(p, '\n', upto) != nullptr)
                    return "bare LF (lines end with CRLF)";
                if (cr == nullptr)
                    return nullptr;
                p = cr;
            }
            const char c = *p;
            switch (after_) {
            case After::cr:
                if (c != '\n')
                    return "bare CR (CR not followed by LF)";
                after_ = After::crlf;
                if (!line_empty_)
                    in_request_line_ = false;  // empty lines before it do not end it
                continue;
            case After::crlf:
                if (c == ' ' || c == '\t')
                    return "whitespace at the start of a line (obs-fold)";
                break;
            case After::other:
                break;
            }
            if (c == '\r') {
                if (in_request_line_ && after_space_)
                    return "space at the end of the request line";
                after_ = After::cr;
            } else if (c == '\n') {
                return "bare LF (lines end with CRLF)";
            } else {
                after_ = After::other;
                if (in_request_line_) {
                    if (c == ' ' && line_empty_)
                        return "space at the start of the request line";
                    if (c == ' ' && after_space_)
                        return "more than one space between the parts of the request line";
                    after_space_ = c == ' ';
                    line_empty_ = false;
                }
            }
        }
        return nullptr;
    }

    /// Content comes next (a body or chunk data, which may hold any byte).
    const char* content()
    {
        if (after_ == After::cr)
            return "bare CR (CR not followed by LF)";
        after_ = After::other;
        return nullptr;
    }

private:
    enum class After { other, cr, crlf };
    After after_ = After::other;
    bool in_request_line_ = true;
    bool line_empty_ = true;
    bool after_space_ = false;
};

} // namespace drover
