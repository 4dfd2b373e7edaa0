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
#pragma once

namespace drover {

class LineGuard {
public:
    /// Checks non-content bytes; nullptr when they are fine, or what is wrong.
    const char* scan(const char* begin, const char* end)
    {
        for (const char* p = begin; p != end; ++p) {
            const char c = *p;
            switch (after_) {
            case After::cr:
                if (c != '\n')
                    return "bare CR (CR not followed by LF)";
                after_ = After::crlf;
                continue;
            case After::crlf:
                if (c == ' ' || c == '\t')
                    return "whitespace at the start of a line (obs-fold)";
                break;
            case After::other:
                break;
            }
            if (c == '\r')
                after_ = After::cr;
            else if (c == '\n')
                return "bare LF (lines end with CRLF)";
            else
                after_ = After::other;
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
};

} // namespace drover
