// Sending a response's head and body through the ResponseWriter, with the
// GIL released around every call on the connection, one call at a time
// whatever thread the application writes from.
#include "worker/python/response_state.hpp"

#include <time.h>

#include <algorithm>

#include "base/log.hpp"
#include "worker/python/gil.hpp"

namespace drover::response {

namespace {

enum class Writer { call, end };

struct WriterResult {
    enum Value { ok, failed, refused } value;
    operator bool() const { return value == ok; }  // NOLINT: used as a success flag
};

// Runs one ResponseWriter call, without the GIL unless it only records. A
// C++ exception from the connection must not unwind through the
// interpreter's C frames (this may run under the app's call to write()), so
// it ends the response as a gone client would. Once the response has ended
// only the call that ends it (Writer::end) reaches the writer: a thread that
// waited here while it ended must not add bytes after the end.
template <typename Call>
WriterResult writer_call(State& s, bool release_gil, Call call, Writer kind = Writer::call)
{
    wait_for_writer(s);
    if (s.ended && kind != Writer::end)
        return {WriterResult::refused};
    struct Busy {
        explicit Busy(bool& f) : flag(f) { flag = true; }
        ~Busy() { flag = false; }  // runs after GilRelease: with the GIL
        bool& flag;
    } busy(s.writer_busy);
    try {
        bool ok;
        if (!release_gil) {
            ok = call(s.writer);
        } else {
            GilRelease unlocked;
            ok = call(s.writer);
        }
        return {ok ? WriterResult::ok : WriterResult::failed};
    } catch (const std::exception& e) {
        log_error("app: ", s.context, ": the response writer failed: ", e.what());
        return {WriterResult::failed};
    }
}

} // namespace

// RFC 9110 6.4.1: no body, whatever the headers say. A 304 keeps its
// Content-Length (the length the 200 would have, 8.6); a 204 must not send one.
bool bodyless_status(int status) { return status < 200 || status == 204 || status == 304; }

// What start() is told. body_complete: the body is over and nothing was
// sent, so its length is known to be 0 and no chunked framing is needed.
int64_t head_length(const State& s, bool body_complete)
{
    if (bodyless_status(s.status))
        return -1;
    if (s.declared_length >= 0)
        return s.declared_length;
    if (s.known_length >= 0)
        return s.known_length;
    return body_complete ? 0 : -1;
}

// The connection is not thread-safe, and while one ResponseWriter call runs
// without the GIL an application thread holding write() could start another.
// Waits (GIL released) until no call is in flight; returns with the GIL held.
void wait_for_writer(State& s)
{
    while (s.writer_busy) {
        GilRelease unlocked;
        struct timespec pause = {0, 100000};
        nanosleep(&pause, nullptr);
    }
}

void mark_gone(State& s)
{
    s.client_gone = true;
    s.close_connection = true;
}

// false: the client has gone away.
bool send_head(State& s, int64_t content_length)
{
    s.head_out = true;
    s.content_length = content_length;
    bool ok = writer_call(s, false, [&s, content_length](ResponseWriter& w) {
        w.start(s.status, s.status_line, s.headers, content_length);
        return true;
    });
    if (!ok)
        mark_gone(s);
    return ok;
}

// false: the client has gone away.
bool send_body(State& s, std::string_view data)
{
    if (data.empty())
        return true;
    if (!s.head_out && !send_head(s, head_length(s, false)))
        return false;
    if (s.head_request || bodyless_status(s.status))
        return true;
    if (s.content_length >= 0) {
        uint64_t room = static_cast<uint64_t>(s.content_length) - std::min<uint64_t>(s.body_bytes, s.content_length);
        if (data.size() > room) {
            // A file_wrapper with a Content-Length is how an application
            // sends part of a file (a range); only other bodies are wrong.
            if (!s.overflow && !s.file_response)
                log_error("app: ", s.context, ": response body is longer than its Content-Length (",
                          s.content_length, "); the rest is dropped and the connection closed");
            s.overflow = true;
            s.close_connection = s.close_connection || !s.file_response;
            data = data.substr(0, room);
            if (data.empty())
                return true;
        }
    }
    if (WriterResult r = writer_call(s, true, [data](ResponseWriter& w) { return w.write(data); }); !r) {
        if (r.value == WriterResult::failed)
            mark_gone(s);
        return false;  // refused: the response ended while this write waited
    }
    s.body_bytes += data.size();
    return true;
}

// Ends a response whose head is out. A body shorter than its Content-Length
// leaves the framing unfinished: finishing would pass it off as complete.
void end_body(State& s)
{
    if (s.client_gone)
        return;
    if (!s.head_request && !bodyless_status(s.status) && s.content_length >= 0 &&
        s.body_bytes < static_cast<uint64_t>(s.content_length)) {
        log_error("app: ", s.context, ": response body is shorter than its Content-Length (", s.body_bytes, " < ",
                  s.content_length, "); closing the connection");
        s.close_connection = true;
        return;
    }
    s.ended = true;
    if (!writer_call(s, true, [](ResponseWriter& w) { return w.finish(); }, Writer::end))
        mark_gone(s);
}

// The answer when the application failed before its head went out.
void send_error(State& s, int status, std::string_view reason)
{
    static const HeaderList headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    const std::string body = cat(reason, "\n");
    s.status = status;
    s.status_line = cat(status, " ", reason);
    s.head_out = true;
    s.content_length = static_cast<int64_t>(body.size());
    bool head_request = s.head_request;
    bool ok = writer_call(s, false, [&s](ResponseWriter& w) {
        w.start(s.status, s.status_line, headers, s.content_length);
        return true;
    });
    s.ended = true;
    ok = ok && writer_call(
                   s, true, [head_request, &body](ResponseWriter& w) { return (head_request || w.write(body)) && w.finish(); },
                   Writer::end);
    if (!ok)
        mark_gone(s);
    else if (!s.head_request)
        s.body_bytes = body.size();
}

bool send_file_range(State& s, int fd, int64_t offset, int64_t count)
{
    bool ok = writer_call(s, true, [fd, offset, count](ResponseWriter& w) {
        return w.sendfile(fd, static_cast<off_t>(offset), count);
    });
    if (!ok) {
        mark_gone(s);
        return false;
    }
    s.body_bytes += static_cast<uint64_t>(count);
    return true;
}

} // namespace drover::response
