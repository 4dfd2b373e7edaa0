// The test application of the bridge tests, and the state they share.
#include "tests/unit/worker/python/bridge_fixture.hpp"

namespace drover {


extern const char* const kBridgeApp = R"PY(
import io
import sys

closes = []
last_environ = {}
last_pieces = []
last_error = None
last_file = None
stale = {}


def respond(start_response, body, status="200 OK", headers=None):
    start_response(status, headers if headers is not None else [("Content-Type", "text/plain")])
    return [body]


def environ_route(environ, start_response):
    return respond(start_response, b"ok")


def echo(environ, start_response):
    global last_pieces
    inp = environ["wsgi.input"]
    mode = environ["QUERY_STRING"]
    pieces = []
    if mode == "read":
        pieces = [inp.read(), inp.read()]
    elif mode == "read_none":
        pieces = [inp.read(None), inp.read(), inp.read(1), inp.readline()]
    elif mode == "readn":
        while True:
            pieces.append(inp.read(7))
            if not pieces[-1]:
                break
    elif mode == "readline":
        while True:
            pieces.append(inp.readline())
            if not pieces[-1]:
                break
    elif mode == "readline5":
        while True:
            pieces.append(inp.readline(5))
            if not pieces[-1]:
                break
    elif mode == "readlines":
        pieces = inp.readlines()
    elif mode == "readlines_hint":
        pieces = inp.readlines(4)
        pieces.append(inp.read())
    elif mode == "iter":
        pieces = list(inp)
    elif mode == "mixed":
        pieces = [inp.readline(), inp.read(3), inp.readline(), inp.read()]
    last_pieces = pieces
    return respond(start_response, b"".join(pieces), headers=[("Content-Type", "application/octet-stream")])


def input_error(environ, start_response):
    global last_error
    try:
        environ["wsgi.input"].read()
    except OSError as e:
        last_error = "%s: %s" % (type(e).__name__, e)
        return respond(start_response, b"read failed", "400 Bad Request")
    last_error = None
    return respond(start_response, b"no error")


SR_CASES = {
    "valid": lambda sr: sr("299 Fine Thanks", [("X-Test", "a b\tc"), ("Set-Cookie", "k=v")]),
    "bad_status": lambda sr: sr("200OK", []),
    "short_status": lambda sr: sr("20 OK", []),
    "bytes_status": lambda sr: sr(b"200 OK", []),
    "crlf_value": lambda sr: sr("200 OK", [("X-Test", "a\r\nInjected: 1")]),
    "lf_name": lambda sr: sr("200 OK", [("X-\nTest", "a")]),
    "nul_value": lambda sr: sr("200 OK", [("X-Test", "a\0b")]),
    "space_name": lambda sr: sr("200 OK", [("X Test", "a")]),
    "non_latin1": lambda sr: sr("200 OK", [("X-Test", "\u20ac")]),
    "tuple_headers": lambda sr: sr("200 OK", (("X-Test", "a"),)),
    "hop_by_hop": lambda sr: sr("200 OK", [("Transfer-Encoding", "chunked")]),
    "bad_length": lambda sr: sr("200 OK", [("Content-Length", "12abc")]),
    "second_call": lambda sr: (sr("200 OK", []), sr("404 Not Found", [])),
}


def sr_route(environ, start_response):
    global last_error
    try:
        SR_CASES[environ["QUERY_STRING"]](start_response)
    except Exception as e:
        last_error = type(e).__name__
        raise
    last_error = None
    return [b"accepted"]


def exc_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html"), ("X-Old", "1")])
    try:
        raise KeyError("x")
    except KeyError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced"]


def exc_after(environ, start_response):
    global last_error
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial")
    try:
        raise KeyError("original")
    except KeyError as original:
        try:
            start_response("500 Oops", [], sys.exc_info())
        except KeyError as reraised:
            last_error = "reraised-same" if reraised is original else "reraised-other"
            raise
    last_error = "not raised"
    return []


def write_route(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"hello ")
    write(b"")
    return [b"world"]


def gen_route(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"one "
        yield b""
        yield b"two "
        yield b"three"
    return gen()


def lazy_gen(environ, start_response):
    yield b""
    start_response("201 Created", [("Content-Type", "text/plain")])
    yield b"late"


def empty_gen(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter(())


def length_route(environ, start_response):
    declared, body = environ["QUERY_STRING"].split(",")
    start_response("200 OK", [("Content-Length", declared)])
    return (bytes([c]) for c in body.encode())


def bodyless_route(environ, start_response):
    # /bodyless?304,120: that status with that Content-Length, and no body
    status, length = environ["QUERY_STRING"].split(",")
    reasons = {"304": "Not Modified", "204": "No Content", "103": "Early Hints", "100": "Continue"}
    headers = [("ETag", '"v1"')]
    if length:
        headers.append(("Content-Length", length))
    start_response("%s %s" % (status, reasons[status]), headers)
    return []


class Closing:
    def __init__(self, name, items, fail_at=None, close_raises=False):
        self.name, self.items, self.fail_at, self.close_raises = name, items, fail_at, close_raises

    def __iter__(self):
        for i, item in enumerate(self.items):
            if i == self.fail_at:
                raise RuntimeError("failed mid-iteration")
            yield item

    def close(self):
        closes.append(self.name)
        if self.close_raises:
            raise RuntimeError("close failed")


def close_route(environ, start_response):
    case = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if case == "normal":
        return Closing(case, [b"a", b"b"])
    if case == "raise":
        return Closing(case, [b"a", b"b", b"c"], fail_at=1)
    if case == "raise_first":
        return Closing(case, [b"a"], fail_at=0)
    if case == "gone":
        return Closing(case, [b"x"] * 10)
    if case == "close_raises":
        return Closing(case, [b"a"], close_raises=True)
    return Closing(case, [])


def boom(environ, start_response):
    raise RuntimeError("boom from the app")


def returns_none(environ, start_response):
    start_response("200 OK", [])
    return None


def not_iterable(environ, start_response):
    start_response("200 OK", [])
    return 42


def str_items(environ, start_response):
    start_response("200 OK", [])
    return ["text"]


def str_after_head(environ, start_response):
    start_response("200 OK", [])
    yield b"a"
    yield "b"


def raise_after_head(environ, start_response):
    start_response("200 OK", [])
    yield b"a"
    raise ValueError("after the head")


def no_start_response(environ, start_response):
    return [b"x"]


def errors_route(environ, start_response):
    global last_error
    err = environ["wsgi.errors"]
    err.write("first line\nsecond ")
    err.write("line\npartial")
    err.flush()
    err.writelines(["from writelines\n", "tail"])
    err.write(" end\n")
    try:
        err.write(b"bytes")
        last_error = None
    except TypeError:
        last_error = "TypeError"
    return respond(start_response, b"logged")


def keep_route(environ, start_response):
    stale["input"] = environ["wsgi.input"]
    stale["start_response"] = start_response
    stale["write"] = start_response("200 OK", [])
    return [b"kept"]


def file_route(environ, start_response):
    global last_file
    q = environ["QUERY_STRING"]
    if q == "bytesio":
        f = io.BytesIO(b"0123456789" * 1000)
    else:
        f = open(q, "rb")
        f.read(3)  # the buffered reader reads ahead: only tell() knows the position
    last_file = f
    headers = [("Content-Type", "application/octet-stream")]
    if environ.get("HTTP_X_LENGTH"):
        headers.append(("Content-Length", environ["HTTP_X_LENGTH"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 4096)


def threads_route(environ, start_response):
    import threading
    write = start_response("200 OK", [("Content-Type", "text/plain")])

    def writer():
        for _ in range(50):
            write(b"x" * 1000)
    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return []


unjoined = []
unjoined_errors = []


def unjoined_route(environ, start_response):
    # Writer threads the app does not join: they outlive the response.
    import threading
    import time
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    go = threading.Event()

    def writer():
        go.wait()
        for _ in range(200):
            try:
                write(b"y" * 10)
            except Exception as e:
                unjoined_errors.append("%s: %s" % (type(e).__name__, e))
                return
            time.sleep(0)
    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    unjoined.extend(threads)
    go.set()
    return iter([b"main"])  # no known length: the threads' bytes are body too, until the end


def join_unjoined():
    for t in unjoined:
        t.join(10)
    alive = sum(t.is_alive() for t in unjoined)
    del unjoined[:]
    return alive


def not_found(environ, start_response):
    return respond(start_response, b"not found", "404 Not Found")


ROUTES = {
    "environ": environ_route, "echo": echo, "input_error": input_error, "sr": sr_route,
    "exc_before": exc_before, "exc_after": exc_after, "write": write_route, "gen": gen_route,
    "lazy_gen": lazy_gen, "empty_gen": empty_gen, "length": length_route, "close": close_route,
    "boom": boom, "returns_none": returns_none, "not_iterable": not_iterable, "str_items": str_items,
    "str_after_head": str_after_head, "raise_after_head": raise_after_head,
    "no_start_response": no_start_response, "errors": errors_route, "keep": keep_route, "file": file_route,
    "threads": threads_route, "bodyless": bodyless_route, "unjoined": unjoined_route,
    "one": lambda e, sr: respond(sr, b"hello"),
    "tuple": lambda e, sr: (sr("200 OK", []), (b"ab", b"cd"))[1],
}

NOT_CALLABLE = 42


def application(environ, start_response):
    global last_environ
    last_environ = dict(environ)
    route = environ["PATH_INFO"].split("/")[1] if "/" in environ["PATH_INFO"] else ""
    return ROUTES.get(route, not_found)(environ, start_response)
)PY";

std::string BridgeTest::app_dir_;
WsgiBridge* BridgeTest::bridge_ = nullptr;

namespace {
[[maybe_unused]] ::testing::Environment* const temp_dirs = ::testing::AddGlobalTestEnvironment(new TempDirs);
} // namespace

} // namespace drover
