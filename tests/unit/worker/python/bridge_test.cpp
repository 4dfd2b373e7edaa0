// The WSGI bridge against a real embedded CPython and a test application
// (bridge_app.py, written to a temporary directory), with a fake BodySource
// and a recording ResponseWriter in place of a connection.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "worker/python/bridge.hpp"
#include "worker/python/gil.hpp"
#include "worker/python/pyref.hpp"
#include "worker/python/python_error.hpp"

namespace drover {
namespace {

const char* const kApp = R"PY(
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


def not_found(environ, start_response):
    return respond(start_response, b"not found", "404 Not Found")


ROUTES = {
    "environ": environ_route, "echo": echo, "input_error": input_error, "sr": sr_route,
    "exc_before": exc_before, "exc_after": exc_after, "write": write_route, "gen": gen_route,
    "lazy_gen": lazy_gen, "empty_gen": empty_gen, "length": length_route, "close": close_route,
    "boom": boom, "returns_none": returns_none, "not_iterable": not_iterable, "str_items": str_items,
    "str_after_head": str_after_head, "raise_after_head": raise_after_head,
    "no_start_response": no_start_response, "errors": errors_route, "keep": keep_route, "file": file_route,
    "threads": threads_route,
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

// ---- fakes ----------------------------------------------------------------

class FakeBody : public BodySource {
public:
    std::string data;
    size_t chunk = 65536;
    ssize_t fail_at = -1;  // read() fails once this many bytes were given
    std::string failure = "client closed the connection mid-body";
    int reads_at_end = 0;
    bool gil_held = false;
    bool throws = false;

    ssize_t read(char* buffer, size_t size) override
    {
        gil_held = gil_held || PyGILState_Check();
        if (throws)
            throw std::runtime_error("the body source threw");
        if (fail_at >= 0 && pos_ >= static_cast<size_t>(fail_at))
            return -1;
        if (pos_ == data.size()) {
            ++reads_at_end;
            return 0;
        }
        size_t n = std::min({size, chunk, data.size() - pos_});
        std::memcpy(buffer, data.data() + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }
    const std::string& error() const override { return failure; }
    bool input_terminated() const override { return true; }

private:
    size_t pos_ = 0;
};

class FakeWriter : public ResponseWriter {
public:
    struct SendfileCall {
        int fd;
        off_t offset;
        int64_t count;
    };

    // configuration
    bool sendfile_allowed = false;
    int gone_after = -1;  // write() fails once this many writes succeeded
    bool throws = false;
    bool slow = false;    // write() takes a while, so overlapping calls would show

    // record
    std::vector<std::string> events;
    int status = 0;
    std::string status_line;
    HeaderList headers;
    int64_t content_length = -2;
    std::string body;
    int writes = 0;
    std::vector<SendfileCall> sendfiles;
    bool gil_held = false;
    std::atomic<int> in_flight{0};
    bool overlapped = false;

    void start(int s, std::string_view line, const HeaderList& h, int64_t length) override
    {
        events.push_back("start");
        status = s;
        status_line = std::string(line);
        headers = h;
        content_length = length;
        started_ = true;
    }
    bool write(std::string_view data) override
    {
        gil_held = gil_held || PyGILState_Check();
        if (gone_after >= 0 && writes >= gone_after) {
            events.push_back("write-gone");
            return false;
        }
        if (throws)
            throw std::runtime_error("the writer threw");
        if (in_flight.fetch_add(1) != 0)
            overlapped = true;
        if (slow)
            ::usleep(20);
        events.push_back("write");
        ++writes;
        body.append(data);
        in_flight.fetch_sub(1);
        return true;
    }
    bool can_sendfile() const override { return sendfile_allowed; }
    bool sendfile(int fd, off_t offset, int64_t count) override
    {
        gil_held = gil_held || PyGILState_Check();
        events.push_back("sendfile");
        sendfiles.push_back({fd, offset, count});
        std::string data(static_cast<size_t>(count), '\0');
        ssize_t n = ::pread(fd, data.data(), data.size(), offset);
        data.resize(n > 0 ? static_cast<size_t>(n) : 0);
        body.append(data);
        return true;
    }
    bool finish() override
    {
        gil_held = gil_held || PyGILState_Check();
        events.push_back("finish");
        return true;
    }
    bool head_sent() const override { return started_; }

    int count(const std::string& event) const
    {
        return static_cast<int>(std::count(events.begin(), events.end(), event));
    }
    std::string header(std::string_view name) const
    {
        for (const auto& [k, v] : headers)
            if (k == name)
                return v;
        return "<none>";
    }

private:
    bool started_ = false;
};

PeerInfo test_peer() { return PeerInfo{"192.0.2.7", "40000", "srv.example", "8080"}; }

Request get(const std::string& path, const std::string& query = "")
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"},
                {"PATH_INFO", path},
                {"QUERY_STRING", query},
                {"SERVER_PROTOCOL", "HTTP/1.1"},
                {"HTTP_HOST", "example.test"}};
    return r;
}

Request post(const std::string& path, const std::string& query, size_t length)
{
    Request r = get(path, query);
    r.params[0].second = "POST";
    r.params.emplace_back("CONTENT_TYPE", "application/octet-stream");
    r.params.emplace_back("CONTENT_LENGTH", std::to_string(length));
    r.content_length = static_cast<int64_t>(length);
    return r;
}

struct Exchange {
    FakeBody body;
    FakeWriter writer;
    RequestOutcome outcome;

    Exchange& run(WsgiBridge& bridge, const Request& request)
    {
        outcome = bridge.handle(request, test_peer(), body, writer);
        return *this;
    }
};

// ---- helpers --------------------------------------------------------------

// Temporary directories live until the whole run ends: the shared bridge
// keeps importing from its directory across test suites.
class TempDirs : public ::testing::Environment {
public:
    static std::vector<std::string>& list()
    {
        static std::vector<std::string> dirs;
        return dirs;
    }
    void TearDown() override
    {
        for (const std::string& dir : list()) {
            std::error_code ignored;
            std::filesystem::remove_all(dir, ignored);
        }
    }
};

[[maybe_unused]] ::testing::Environment* const temp_dirs = ::testing::AddGlobalTestEnvironment(new TempDirs);

std::string make_temp_dir()
{
    char tmpl[] = "/tmp/drover-bridge-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (!dir)
        throw std::runtime_error("mkdtemp failed");
    TempDirs::list().push_back(dir);
    return dir;
}

void write_file(const std::string& path, const std::string& content)
{
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

std::string utf8(PyObject* text)
{
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(text, &size);
    return data ? std::string(data, static_cast<size_t>(size)) : std::string("<undecodable>");
}

// Evaluates expr in bridge_app's namespace: str() of the value, or
// "!" + the exception's last traceback line.
std::string py(const std::string& expr)
{
    GilHold gil;
    PyRef module = PyRef::steal(PyImport_ImportModule("bridge_app"));
    if (!module)
        return "!" + PythonError::fetch().summary();
    PyObject* globals = PyModule_GetDict(module.get());
    PyRef value = PyRef::steal(PyRun_String(expr.c_str(), Py_eval_input, globals, globals));
    if (!value)
        return "!" + PythonError::fetch().summary();
    PyRef text = PyRef::steal(PyObject_Str(value.get()));
    return text ? utf8(text.get()) : "!str() failed";
}

// Collects what the process writes to fd 2 (the error log) while it lives.
class StderrCapture {
public:
    StderrCapture()
    {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        char tmpl[] = "/tmp/drover-bridge-log-XXXXXX";
        file_ = ::mkstemp(tmpl);
        ::unlink(tmpl);
        ::dup2(file_, STDERR_FILENO);
    }
    ~StderrCapture() { finish(); }

    std::string finish()
    {
        if (saved_ >= 0) {
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
            saved_ = -1;
            off_t size = ::lseek(file_, 0, SEEK_END);
            text_.resize(static_cast<size_t>(std::max<off_t>(size, 0)));
            ssize_t n = ::pread(file_, text_.data(), text_.size(), 0);
            text_.resize(n > 0 ? static_cast<size_t>(n) : 0);
            ::close(file_);
        }
        return text_;
    }

private:
    int saved_ = -1;
    int file_ = -1;
    std::string text_;
};

bool contains(const std::string& haystack, const std::string& needle)
{
    return haystack.find(needle) != std::string::npos;
}

// ---- the shared bridge ----------------------------------------------------

class BridgeTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        if (!app_dir_.empty())
            return;
        app_dir_ = make_temp_dir();
        write_file(app_dir_ + "/bridge_app.py", kApp);
        bridge_ = make_wsgi_bridge(settings()).release();
    }

    static AppSettings settings()
    {
        AppSettings s;
        s.callable = "bridge_app:application";
        s.pythonpath = {app_dir_};
        return s;
    }

    static WsgiBridge& bridge() { return *bridge_; }

    // Shared across the suite on purpose: the interpreter is per process.
    static std::string app_dir_;
    static WsgiBridge* bridge_;
};

std::string BridgeTest::app_dir_;
WsgiBridge* BridgeTest::bridge_ = nullptr;

// ---- environ --------------------------------------------------------------

TEST_F(BridgeTest, EnvironHasTheCgiAndWsgiKeys)
{
    Exchange ex;
    ex.run(bridge(), get("/environ/x", "a=1&b=2"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['REQUEST_METHOD']"), "GET");
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/x");
    EXPECT_EQ(py("last_environ['QUERY_STRING']"), "a=1&b=2");
    EXPECT_EQ(py("last_environ['SERVER_PROTOCOL']"), "HTTP/1.1");
    EXPECT_EQ(py("last_environ['HTTP_HOST']"), "example.test");
    EXPECT_EQ(py("last_environ['wsgi.version']"), "(1, 0)");
    EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), "http");
    EXPECT_EQ(py("last_environ['wsgi.multithread']"), "False");
    EXPECT_EQ(py("last_environ['wsgi.multiprocess']"), "True");
    EXPECT_EQ(py("last_environ['wsgi.run_once']"), "False");
    EXPECT_EQ(py("last_environ['wsgi.input_terminated']"), "True");
    EXPECT_EQ(py("callable(last_environ['wsgi.file_wrapper'])"), "True");
    EXPECT_EQ(py("hasattr(last_environ['wsgi.errors'], 'write')"), "True");
    EXPECT_EQ(py("hasattr(last_environ['wsgi.input'], 'readline')"), "True");
    // No body: CGI leaves these out rather than sending them empty.
    EXPECT_EQ(py("'CONTENT_TYPE' in last_environ or 'CONTENT_LENGTH' in last_environ"), "False");
    EXPECT_EQ(py("all(type(k) is str and type(v) is str for k, v in last_environ.items()"
                 " if not k.startswith('wsgi.'))"),
              "True");
}

TEST_F(BridgeTest, PeerFillsServerAndRemoteWhenTheRequestLacksThem)
{
    Exchange ex;
    ex.run(bridge(), get("/environ"));
    EXPECT_EQ(py("last_environ['SERVER_NAME']"), "srv.example");
    EXPECT_EQ(py("last_environ['SERVER_PORT']"), "8080");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "192.0.2.7");
    EXPECT_EQ(py("last_environ['REMOTE_PORT']"), "40000");

    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"SERVER_NAME", "front.example"},
                                     {"SERVER_PORT", "443"},
                                     {"REMOTE_ADDR", "198.51.100.1"},
                                     {"REMOTE_PORT", "5555"}});
    Exchange ex2;
    ex2.run(bridge(), r);
    EXPECT_EQ(py("last_environ['SERVER_NAME']"), "front.example");
    EXPECT_EQ(py("last_environ['SERVER_PORT']"), "443");
    EXPECT_EQ(py("last_environ['REMOTE_ADDR']"), "198.51.100.1");
    EXPECT_EQ(py("last_environ['REMOTE_PORT']"), "5555");
}

TEST_F(BridgeTest, DefaultsWhenTheRequestCarriesAlmostNothing)
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/environ/a%20b?x=1"}};
    r.http_minor = 0;
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/a b");
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['QUERY_STRING']"), "x=1");
    EXPECT_EQ(py("last_environ['SERVER_PROTOCOL']"), "HTTP/1.0");
}

TEST_F(BridgeTest, PathBytesArriveAsLatin1Str)
{
    Exchange ex;
    ex.run(bridge(), get("/environ/caf\xc3\xa9\xff"));
    EXPECT_EQ(py("last_environ['PATH_INFO'].encode('latin-1') == b'/environ/caf\\xc3\\xa9\\xff'"), "True");
    EXPECT_EQ(py("len(last_environ['PATH_INFO'])"), "15");
}

TEST_F(BridgeTest, RepeatedHeadersAreJoinedNotDuplicated)
{
    Request r = get("/environ");
    r.params.insert(r.params.end(), {{"HTTP_X_MULTI", "1"},
                                     {"HTTP_X_MULTI", "2"},
                                     {"HTTP_COOKIE", "a=1"},
                                     {"HTTP_COOKIE", "b=2"}});
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(py("last_environ['HTTP_X_MULTI']"), "1, 2");
    EXPECT_EQ(py("last_environ['HTTP_COOKIE']"), "a=1; b=2");
}

TEST_F(BridgeTest, ContentHeadersArePassedWhenPresent)
{
    Exchange ex;
    ex.body.data = "abc";
    ex.run(bridge(), post("/environ", "", 3));
    EXPECT_EQ(py("last_environ['CONTENT_TYPE']"), "application/octet-stream");
    EXPECT_EQ(py("last_environ['CONTENT_LENGTH']"), "3");
    EXPECT_EQ(py("last_environ['REQUEST_METHOD']"), "POST");
}

TEST_F(BridgeTest, NginxScriptNameOnlyBecomesPathInfo)
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"},  {"SCRIPT_NAME", "/environ/page"}, {"QUERY_STRING", ""},
                {"CONTENT_TYPE", ""},       {"CONTENT_LENGTH", ""},            {"REQUEST_URI", "/environ/page"},
                {"SERVER_PROTOCOL", "HTTP/1.1"}};
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/page");
    EXPECT_EQ(py("'CONTENT_LENGTH' in last_environ"), "False");
}

TEST_F(BridgeTest, ExplicitScriptNameAndPathInfoAreKept)
{
    Request r = get("/environ/rest");
    r.params.emplace_back("SCRIPT_NAME", "/app");
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "/app");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/rest");
}

TEST_F(BridgeTest, HttpsMakesTheUrlSchemeHttps)
{
    for (auto [name, value, scheme] : {std::tuple{"HTTPS", "on", "https"}, std::tuple{"HTTPS", "ON", "https"},
                                       std::tuple{"HTTPS", "1", "https"}, std::tuple{"HTTPS", "off", "http"},
                                       std::tuple{"REQUEST_SCHEME", "https", "https"},
                                       std::tuple{"REQUEST_SCHEME", "http", "http"}}) {
        Request r = get("/environ");
        r.params.emplace_back(name, value);
        Exchange ex;
        ex.run(bridge(), r);
        EXPECT_EQ(py("last_environ['wsgi.url_scheme']"), scheme) << name << "=" << value;
    }
}

TEST_F(BridgeTest, ScriptNameMountMovesThePrefix)
{
    AppSettings s = settings();
    s.script_name = "/mnt/";
    std::unique_ptr<WsgiBridge> mounted = make_wsgi_bridge(s);

    Exchange ex;
    ex.run(*mounted, get("/mnt/environ/x"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(py("last_environ['SCRIPT_NAME']"), "/mnt");
    EXPECT_EQ(py("last_environ['PATH_INFO']"), "/environ/x");

    ex.run(*mounted, get("/mnt"));
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('/mnt', '')");

    // Only a whole path segment is a match.
    ex.run(*mounted, get("/mntx/environ"));
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('', '/mntx/environ')");

    // nginx's SCRIPT_NAME-only form is mounted the same way.
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"}, {"SCRIPT_NAME", "/mnt/environ"}};
    ex.run(*mounted, r);
    EXPECT_EQ(py("(last_environ['SCRIPT_NAME'], last_environ['PATH_INFO'])"), "('/mnt', '/environ')");
}

// ---- wsgi.input -----------------------------------------------------------

std::string lines_body()
{
    return "first line\nsecond\n\nfourth is longer than the others\nno newline at the end";
}

TEST_F(BridgeTest, InputReadInOneChunkAndByteByByte)
{
    for (size_t chunk : {size_t(1), size_t(1) << 20}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "read", ex.body.data.size()));
        EXPECT_EQ(ex.writer.body, lines_body()) << "chunk " << chunk;
        EXPECT_EQ(py("last_pieces[1]"), "b''");
        EXPECT_LE(ex.body.reads_at_end, 1) << "read past the end of the body";
        EXPECT_FALSE(ex.body.gil_held) << "BodySource::read must run without the GIL";
    }
}

TEST_F(BridgeTest, InputReadNoneAndAfterTheEnd)
{
    Exchange ex;
    ex.body.data = "payload";
    ex.run(bridge(), post("/echo", "read_none", 7));
    EXPECT_EQ(py("last_pieces"), "[b'payload', b'', b'', b'']");
    EXPECT_LE(ex.body.reads_at_end, 1);
}

TEST_F(BridgeTest, InputReadWithSize)
{
    for (size_t chunk : {size_t(1), size_t(3), size_t(65536)}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "readn", ex.body.data.size()));
        EXPECT_EQ(ex.writer.body, lines_body());
        // read(n) returns n bytes until the end, not whatever one read gave.
        EXPECT_EQ(py("[len(p) for p in last_pieces[:-2]] == [7] * (len(last_pieces) - 2)"), "True")
            << "chunk " << chunk;
        EXPECT_EQ(py("last_pieces[-1]"), "b''");
    }
}

TEST_F(BridgeTest, InputReadline)
{
    for (size_t chunk : {size_t(1), size_t(65536)}) {
        Exchange ex;
        ex.body.data = lines_body();
        ex.body.chunk = chunk;
        ex.run(bridge(), post("/echo", "readline", ex.body.data.size()));
        EXPECT_EQ(py("last_pieces"), "[b'first line\\n', b'second\\n', b'\\n', b'fourth is longer than the "
                                     "others\\n', b'no newline at the end', b'']")
            << "chunk " << chunk;
    }
}

TEST_F(BridgeTest, InputReadlineWithLimit)
{
    Exchange ex;
    ex.body.data = "abcdefgh\nij\n";
    ex.body.chunk = 1;
    ex.run(bridge(), post("/echo", "readline5", ex.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'abcde', b'fgh\\n', b'ij\\n', b'']");
}

TEST_F(BridgeTest, InputReadlinesAndIteration)
{
    Exchange ex;
    ex.body.data = "a\nbb\nccc";
    ex.body.chunk = 1;
    ex.run(bridge(), post("/echo", "readlines", ex.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'a\\n', b'bb\\n', b'ccc']");

    Exchange hinted;
    hinted.body.data = "a\nbb\nccc\ndddd\n";
    hinted.run(bridge(), post("/echo", "readlines_hint", hinted.body.data.size()));
    // Lines up to the one that reaches the hint; the rest stays readable.
    EXPECT_EQ(py("last_pieces"), "[b'a\\n', b'bb\\n', b'ccc\\ndddd\\n']");

    Exchange iterated;
    iterated.body.data = "x\ny\n";
    iterated.body.chunk = 1;
    iterated.run(bridge(), post("/echo", "iter", iterated.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'x\\n', b'y\\n']");

    Exchange mixed;
    mixed.body.data = "line\nabcrest of line\ntail";
    mixed.body.chunk = 2;
    mixed.run(bridge(), post("/echo", "mixed", mixed.body.data.size()));
    EXPECT_EQ(py("last_pieces"), "[b'line\\n', b'abc', b'rest of line\\n', b'tail']");
}

TEST_F(BridgeTest, InputEmptyBody)
{
    for (const char* mode : {"read", "readline", "readlines", "iter"}) {
        Exchange ex;
        ex.run(bridge(), post("/echo", mode, 0));
        EXPECT_EQ(ex.outcome.status, 200) << mode;
        EXPECT_EQ(ex.writer.body, "") << mode;
        EXPECT_LE(ex.body.reads_at_end, 1) << mode;
    }
    EXPECT_EQ(py("last_pieces"), "[]");
}

TEST_F(BridgeTest, InputOneMebibyte)
{
    std::string big;
    for (int i = 0; big.size() < (1u << 20); ++i)
        big += "line " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 97), 'x') + "\n";
    big.resize(1u << 20);

    Exchange whole;
    whole.body.data = big;
    whole.body.chunk = 1;
    whole.run(bridge(), post("/echo", "read", big.size()));
    EXPECT_EQ(whole.writer.body.size(), big.size());
    EXPECT_TRUE(whole.writer.body == big);
    EXPECT_EQ(whole.writer.content_length, static_cast<int64_t>(big.size()));

    Exchange lines;
    lines.body.data = big;
    lines.body.chunk = 1000;
    lines.run(bridge(), post("/echo", "iter", big.size()));
    EXPECT_TRUE(lines.writer.body == big);
    EXPECT_EQ(py("len(last_pieces)"), std::to_string(std::count(big.begin(), big.end(), '\n') + 1));
}

TEST_F(BridgeTest, InputReadFailureIsAnOSErrorForTheApp)
{
    Exchange ex;
    ex.body.data = "0123456789";
    ex.body.chunk = 4;
    ex.body.fail_at = 4;
    ex.run(bridge(), post("/input_error", "", 10));
    EXPECT_EQ(ex.outcome.status, 400);
    EXPECT_EQ(py("last_error"), "OSError: client closed the connection mid-body");
}

// A chunked body that grows over max_body_size fails while the app reads it:
// the client is answered 413, as for a Content-Length over the limit, not
// 500 with an error-level traceback.
TEST_F(BridgeTest, BodyOverTheLimitThatTheAppLetsOutIs413)
{
    StderrCapture log;
    Exchange ex;
    ex.body.data = "0123456789";
    ex.body.chunk = 4;
    ex.body.fail_at = 4;
    ex.body.failure = std::string(kBodyTooLarge);
    ex.run(bridge(), post("/echo", "read", 10));
    std::string text = log.finish();
    EXPECT_EQ(ex.outcome.status, 413);
    EXPECT_EQ(ex.writer.status_line, "413 Content Too Large");
    EXPECT_EQ(ex.writer.body, "Content Too Large\n");
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_TRUE(ex.outcome.close_connection) << "the rest of the body is unread";
    EXPECT_TRUE(contains(text, "info: ")) << text;
    EXPECT_FALSE(contains(text, "Traceback")) << text;

    // Any other read failure the app lets out is still the app's 500.
    Exchange other;
    other.body.data = "0123456789";
    other.body.chunk = 4;
    other.body.fail_at = 4;
    other.run(bridge(), post("/echo", "read", 10));
    EXPECT_EQ(other.outcome.status, 500);

    // An app that handles the error answers as it likes.
    Exchange handled;
    handled.body.data = "0123456789";
    handled.body.fail_at = 0;
    handled.body.failure = std::string(kBodyTooLarge);
    handled.run(bridge(), post("/input_error", "", 10));
    EXPECT_EQ(handled.outcome.status, 400);
}

TEST_F(BridgeTest, LeakedObjectsAreDeadAfterTheRequest)
{
    Exchange ex;
    ex.body.data = "unread body";
    ex.run(bridge(), post("/keep", "", 11));
    EXPECT_EQ(ex.writer.body, "kept");
    EXPECT_TRUE(contains(py("stale['input'].read()"), "ValueError")) << py("stale['input'].read()");
    EXPECT_TRUE(contains(py("stale['write'](b'x')"), "ValueError"));
    EXPECT_TRUE(contains(py("stale['start_response']('200 OK', [])"), "ValueError"));
}

// ---- start_response -------------------------------------------------------

TEST_F(BridgeTest, ValidStartResponsePassesStatusAndHeaders)
{
    Exchange ex;
    ex.run(bridge(), get("/sr", "valid"));
    EXPECT_EQ(py("last_error"), "None");
    EXPECT_EQ(ex.outcome.status, 299);
    EXPECT_EQ(ex.writer.status, 299);
    EXPECT_EQ(ex.writer.status_line, "299 Fine Thanks");
    ASSERT_EQ(ex.writer.headers.size(), 2u);
    EXPECT_EQ(ex.writer.header("X-Test"), "a b\tc");
    EXPECT_EQ(ex.writer.header("Set-Cookie"), "k=v");
    EXPECT_EQ(ex.writer.body, "accepted");
}

TEST_F(BridgeTest, InvalidStartResponseRaisesAndBecomes500)
{
    const std::pair<const char*, const char*> cases[] = {
        {"bad_status", "ValueError"},   {"short_status", "ValueError"}, {"bytes_status", "TypeError"},
        {"crlf_value", "ValueError"},   {"lf_name", "ValueError"},      {"nul_value", "ValueError"},
        {"space_name", "ValueError"},   {"non_latin1", "ValueError"},   {"tuple_headers", "TypeError"},
        {"hop_by_hop", "AssertionError"}, {"bad_length", "ValueError"}, {"second_call", "AssertionError"},
    };
    for (auto [name, error] : cases) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get("/sr", name));
        std::string text = log.finish();
        EXPECT_EQ(py("last_error"), error) << name;
        EXPECT_EQ(ex.outcome.status, 500) << name;
        EXPECT_EQ(ex.writer.status_line, "500 Internal Server Error") << name;
        EXPECT_EQ(ex.writer.count("start"), 1) << name << ": the head is sent once";
        EXPECT_EQ(ex.writer.count("finish"), 1) << name;
        EXPECT_FALSE(ex.outcome.close_connection) << name;
        EXPECT_TRUE(contains(text, "Traceback")) << name << ": " << text;
        EXPECT_FALSE(contains(ex.writer.body, "Injected")) << name;
    }
}

TEST_F(BridgeTest, ExcInfoBeforeTheHeadReplacesStatusAndHeaders)
{
    Exchange ex;
    ex.run(bridge(), get("/exc_before"));
    EXPECT_EQ(ex.outcome.status, 503);
    EXPECT_EQ(ex.writer.status_line, "503 Service Unavailable");
    EXPECT_EQ(ex.writer.header("X-Old"), "<none>");
    EXPECT_EQ(ex.writer.header("Content-Type"), "text/plain");
    EXPECT_EQ(ex.writer.body, "replaced");
}

TEST_F(BridgeTest, ExcInfoAfterTheHeadReraisesAndCutsTheResponse)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/exc_after"));
    std::string text = log.finish();
    EXPECT_EQ(py("last_error"), "reraised-same");
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.body, "partial");
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 0) << "a cut response must not look complete";
    EXPECT_TRUE(contains(text, "KeyError: 'original'")) << text;
}

TEST_F(BridgeTest, WriteCallableSendsTheHeadThenBytes)
{
    Exchange ex;
    ex.run(bridge(), get("/write"));
    EXPECT_EQ(ex.writer.body, "hello world");
    EXPECT_EQ(ex.writer.writes, 2);
    EXPECT_EQ((std::vector<std::string>{"start", "write", "write", "finish"}), ex.writer.events);
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(ex.outcome.response_bytes, 11u);
    EXPECT_FALSE(ex.writer.gil_held) << "ResponseWriter calls must run without the GIL";
}

// ---- the response iterable ------------------------------------------------

TEST_F(BridgeTest, OneItemListIsSentWithItsLength)
{
    Exchange ex;
    ex.run(bridge(), get("/one"));
    EXPECT_EQ(ex.writer.content_length, 5);
    EXPECT_EQ(ex.writer.writes, 1);
    EXPECT_EQ(ex.writer.body, "hello");
    EXPECT_EQ(ex.outcome.response_bytes, 5u);
    EXPECT_FALSE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 1);

    Exchange tuple;
    tuple.run(bridge(), get("/tuple"));
    EXPECT_EQ(tuple.writer.content_length, 4);
    EXPECT_EQ(tuple.writer.body, "abcd");
}

TEST_F(BridgeTest, GeneratorStreamsSeveralWrites)
{
    Exchange ex;
    ex.run(bridge(), get("/gen"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(ex.writer.writes, 3);  // the empty item is skipped
    EXPECT_EQ(ex.writer.body, "one two three");
    EXPECT_EQ((std::vector<std::string>{"start", "write", "write", "write", "finish"}), ex.writer.events);
    EXPECT_FALSE(ex.writer.gil_held);
}

TEST_F(BridgeTest, StartResponseInsideTheGenerator)
{
    Exchange ex;
    ex.run(bridge(), get("/lazy_gen"));
    EXPECT_EQ(ex.outcome.status, 201);
    EXPECT_EQ(ex.writer.body, "late");
}

TEST_F(BridgeTest, EmptyBodyHasLengthZero)
{
    Exchange ex;
    ex.run(bridge(), get("/empty_gen"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.content_length, 0);
    EXPECT_EQ((std::vector<std::string>{"start", "finish"}), ex.writer.events);
}

TEST_F(BridgeTest, HeadRequestSendsNoBody)
{
    Request r = get("/gen");
    r.params[0].second = "HEAD";
    r.head = true;
    Exchange ex;
    ex.run(bridge(), r);
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.writes, 0);
    EXPECT_EQ(ex.writer.count("start"), 1);
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_EQ(ex.outcome.response_bytes, 0u);

    Request one = get("/one");
    one.params[0].second = "HEAD";
    one.head = true;
    Exchange known;
    known.run(bridge(), one);
    EXPECT_EQ(known.writer.content_length, 5) << "HEAD announces the length GET would send";
    EXPECT_EQ(known.writer.writes, 0);
    EXPECT_EQ(known.writer.count("finish"), 1);
}

TEST_F(BridgeTest, DeclaredContentLengthIsPassedAndEnforced)
{
    Exchange exact;
    exact.run(bridge(), get("/length", "5,hello"));
    EXPECT_EQ(exact.writer.content_length, 5);
    EXPECT_EQ(exact.writer.body, "hello");
    EXPECT_FALSE(exact.outcome.close_connection);
    EXPECT_EQ(exact.writer.count("finish"), 1);

    StderrCapture log;
    Exchange longer;
    longer.run(bridge(), get("/length", "3,abcdef"));
    std::string text = log.finish();
    EXPECT_EQ(longer.writer.body, "abc");
    EXPECT_EQ(longer.outcome.response_bytes, 3u);
    EXPECT_TRUE(longer.outcome.close_connection);
    EXPECT_TRUE(contains(text, "longer than its Content-Length")) << text;

    Exchange shorter;
    shorter.run(bridge(), get("/length", "10,abc"));
    EXPECT_EQ(shorter.writer.body, "abc");
    EXPECT_TRUE(shorter.outcome.close_connection);
    EXPECT_EQ(shorter.writer.count("finish"), 0);
}

TEST_F(BridgeTest, CloseIsCalledAfterANormalEnd)
{
    py("closes.clear()");
    Exchange ex;
    ex.run(bridge(), get("/close", "normal"));
    EXPECT_EQ(ex.writer.body, "ab");
    EXPECT_EQ(py("closes"), "['normal']");
}

TEST_F(BridgeTest, CloseIsCalledWhenIterationRaises)
{
    py("closes.clear()");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/close", "raise"));
    std::string text = log.finish();
    EXPECT_EQ(py("closes"), "['raise']");
    EXPECT_EQ(ex.writer.body, "a");
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.count("finish"), 0);
    EXPECT_TRUE(contains(text, "RuntimeError: failed mid-iteration")) << text;

    Exchange first;
    first.run(bridge(), get("/close", "raise_first"));
    EXPECT_EQ(py("closes"), "['raise', 'raise_first']");
    EXPECT_EQ(first.outcome.status, 500);
    EXPECT_FALSE(first.outcome.close_connection);
}

TEST_F(BridgeTest, CloseIsCalledWhenTheClientGoes)
{
    py("closes.clear()");
    Exchange ex;
    ex.writer.gone_after = 1;
    ex.run(bridge(), get("/close", "gone"));
    EXPECT_EQ(py("closes"), "['gone']");
    EXPECT_TRUE(ex.outcome.client_gone);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_EQ(ex.writer.writes, 1);
    EXPECT_EQ(ex.writer.count("write-gone"), 1) << "iteration stops at the first failed write";
    EXPECT_EQ(ex.outcome.response_bytes, 1u);
    EXPECT_EQ(ex.writer.count("finish"), 0);
}

TEST_F(BridgeTest, CloseThatRaisesIsLoggedAndSurvived)
{
    py("closes.clear()");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/close", "close_raises"));
    std::string text = log.finish();
    EXPECT_EQ(py("closes"), "['close_raises']");
    EXPECT_TRUE(contains(text, "RuntimeError: close failed")) << text;
    EXPECT_TRUE(ex.outcome.close_connection);

    Exchange next;
    next.run(bridge(), get("/one"));
    EXPECT_EQ(next.writer.body, "hello");
}

TEST_F(BridgeTest, AppExceptionIs500AndTheNextRequestWorks)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/boom"));
    std::string text = log.finish();
    EXPECT_EQ(ex.outcome.status, 500);
    EXPECT_EQ(ex.writer.status_line, "500 Internal Server Error");
    EXPECT_EQ(ex.writer.header("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(ex.writer.content_length, static_cast<int64_t>(ex.writer.body.size()));
    EXPECT_FALSE(ex.writer.body.empty());
    EXPECT_EQ(ex.outcome.response_bytes, ex.writer.body.size());
    EXPECT_TRUE(contains(text, "app: Traceback (most recent call last):")) << text;
    EXPECT_TRUE(contains(text, "app: RuntimeError: boom from the app")) << text;
    EXPECT_TRUE(contains(text, "GET /boom")) << text;

    Exchange next;
    next.run(bridge(), get("/one"));
    EXPECT_EQ(next.outcome.status, 200);
    EXPECT_EQ(next.writer.body, "hello");
    EXPECT_EQ(py("'ok'"), "ok") << "no exception may be left pending";
}

TEST_F(BridgeTest, BadReturnValuesAre500)
{
    for (const char* path : {"/returns_none", "/not_iterable", "/str_items", "/no_start_response"}) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get(path));
        std::string text = log.finish();
        EXPECT_EQ(ex.outcome.status, 500) << path;
        EXPECT_EQ(ex.writer.count("start"), 1) << path;
        EXPECT_FALSE(ex.outcome.close_connection) << path;
        EXPECT_TRUE(contains(text, "Error")) << path << ": " << text;
    }
}

TEST_F(BridgeTest, FailureAfterTheHeadCutsTheConnection)
{
    for (auto [path, logged] : {std::pair{"/str_after_head", "TypeError: response body items must be bytes"},
                                std::pair{"/raise_after_head", "ValueError: after the head"}}) {
        StderrCapture log;
        Exchange ex;
        ex.run(bridge(), get(path));
        std::string text = log.finish();
        EXPECT_EQ(ex.outcome.status, 200) << path;
        EXPECT_EQ(ex.writer.body, "a") << path;
        EXPECT_TRUE(ex.outcome.close_connection) << path;
        EXPECT_EQ(ex.writer.count("finish"), 0) << path;
        EXPECT_TRUE(contains(text, logged)) << path << ": " << text;
    }
}

TEST_F(BridgeTest, WritesFromAppThreadsNeverOverlap)
{
    Exchange ex;
    ex.writer.slow = true;
    ex.run(bridge(), get("/threads"));
    EXPECT_EQ(ex.outcome.status, 200);
    EXPECT_EQ(ex.writer.body.size(), 200000u);
    EXPECT_EQ(ex.writer.writes, 200);
    EXPECT_FALSE(ex.writer.overlapped) << "two ResponseWriter calls ran at once";
    EXPECT_EQ(ex.writer.count("finish"), 1);
}

TEST_F(BridgeTest, ThrowingConnectionObjectsDoNotEscape)
{
    StderrCapture log;
    Exchange ex;
    ex.writer.throws = true;
    ex.run(bridge(), get("/gen"));
    EXPECT_TRUE(ex.outcome.client_gone);
    EXPECT_TRUE(ex.outcome.close_connection);
    EXPECT_TRUE(contains(log.finish(), "the writer threw"));

    Exchange reader;
    reader.body.data = "abc";
    reader.body.throws = true;
    reader.run(bridge(), post("/input_error", "", 3));
    EXPECT_EQ(reader.outcome.status, 400);
    EXPECT_EQ(py("last_error"), "OSError: the body source threw");
}

// ---- wsgi.errors ----------------------------------------------------------

TEST_F(BridgeTest, ErrorsStreamLogsWholeLines)
{
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), get("/errors"));
    std::string text = log.finish();
    EXPECT_EQ(ex.writer.body, "logged");
    EXPECT_EQ(py("last_error"), "TypeError") << "write(bytes) must raise";
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        size_t at = line.find("app: ");
        if (at != std::string::npos)
            lines.push_back(line.substr(at + 5));
    }
    EXPECT_EQ((std::vector<std::string>{"first line", "second line", "partial", "from writelines", "tail end"}),
              lines)
        << text;
    EXPECT_TRUE(contains(text, "error: ")) << "app output is logged at level error: " << text;
}

// ---- wsgi.file_wrapper ----------------------------------------------------

class FileWrapperTest : public BridgeTest {
protected:
    void SetUp() override
    {
        for (int i = 0; content_.size() < 20000; ++i)
            content_ += std::to_string(i) + ",";
        content_.resize(20000);
        path_ = app_dir_ + "/payload.bin";
        write_file(path_, content_);
    }
    std::string content_;
    std::string path_;
};

TEST_F(FileWrapperTest, RegularFileGoesOutWithSendfile)
{
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), get("/file", path_));
    ASSERT_EQ(ex.writer.sendfiles.size(), 1u);
    EXPECT_EQ(ex.writer.sendfiles[0].offset, 3) << "the offset is the Python position, not the fd's";
    EXPECT_EQ(ex.writer.sendfiles[0].count, 19997);
    EXPECT_EQ(ex.writer.content_length, 19997);
    EXPECT_TRUE(ex.writer.body == content_.substr(3));
    EXPECT_EQ(ex.writer.writes, 0);
    EXPECT_EQ((std::vector<std::string>{"start", "sendfile", "finish"}), ex.writer.events);
    EXPECT_EQ(ex.outcome.response_bytes, 19997u);
    EXPECT_EQ(py("last_file.closed"), "True");
    EXPECT_FALSE(ex.writer.gil_held);
}

TEST_F(FileWrapperTest, SendfileIsLimitedByContentLength)
{
    Request r = get("/file", path_);
    r.params.emplace_back("HTTP_X_LENGTH", "100");
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), r);
    ASSERT_EQ(ex.writer.sendfiles.size(), 1u);
    EXPECT_EQ(ex.writer.sendfiles[0].count, 100);
    EXPECT_EQ(ex.writer.content_length, 100);
    EXPECT_EQ(ex.writer.body, content_.substr(3, 100));
    EXPECT_FALSE(ex.outcome.close_connection);
}

TEST_F(FileWrapperTest, WithoutSendfileTheFileIsIterated)
{
    Exchange ex;
    ex.run(bridge(), get("/file", path_));
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.writes, 5);  // 19997 bytes in 4096-byte blocks
    EXPECT_TRUE(ex.writer.body == content_.substr(3));
    EXPECT_EQ(ex.writer.content_length, 19997) << "the file size is still known";
    EXPECT_EQ(py("last_file.closed"), "True");
}

TEST_F(FileWrapperTest, IteratedFileIsLimitedByContentLengthToo)
{
    Request r = get("/file", path_);
    r.params.emplace_back("HTTP_X_LENGTH", "100");
    StderrCapture log;
    Exchange ex;
    ex.run(bridge(), r);
    std::string text = log.finish();
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.content_length, 100);
    EXPECT_EQ(ex.writer.body, content_.substr(3, 100));
    EXPECT_FALSE(ex.outcome.close_connection) << "a part of a file is a complete response";
    EXPECT_EQ(ex.writer.count("finish"), 1);
    EXPECT_FALSE(contains(text, "Content-Length")) << text;
}

TEST_F(FileWrapperTest, BytesIOFallsBackToIteration)
{
    Exchange ex;
    ex.writer.sendfile_allowed = true;
    ex.run(bridge(), get("/file", "bytesio"));
    EXPECT_TRUE(ex.writer.sendfiles.empty());
    EXPECT_EQ(ex.writer.writes, 3);
    EXPECT_EQ(ex.writer.body.size(), 10000u);
    EXPECT_EQ(ex.writer.body.substr(0, 12), "012345678901");
    EXPECT_EQ(ex.writer.content_length, -1);
    EXPECT_EQ(py("last_file.closed"), "True");
}

// ---- loading the application ----------------------------------------------

TEST_F(BridgeTest, MissingModuleThrowsAndLogsTheSearch)
{
    AppSettings s = settings();
    s.callable = "drover_no_such_module:app";
    StderrCapture log;
    std::string what;
    try {
        make_wsgi_bridge(s);
    } catch (const std::runtime_error& e) {
        what = e.what();
    }
    std::string text = log.finish();
    EXPECT_TRUE(contains(what, "drover_no_such_module")) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    EXPECT_TRUE(contains(text, "drover_no_such_module")) << text;
    EXPECT_TRUE(contains(text, "sys.path")) << text;
    EXPECT_TRUE(contains(text, app_dir_)) << text;
    EXPECT_TRUE(contains(text, "ModuleNotFoundError")) << text;
}

TEST_F(BridgeTest, MissingOrUncallableAttributeThrows)
{
    AppSettings s = settings();
    s.callable = "bridge_app:no_such_attr";
    StderrCapture log;
    EXPECT_THROW(make_wsgi_bridge(s), std::runtime_error);
    s.callable = "bridge_app:NOT_CALLABLE";
    try {
        make_wsgi_bridge(s);
        ADD_FAILURE() << "an int is not a WSGI application";
    } catch (const std::runtime_error& e) {
        EXPECT_TRUE(contains(e.what(), "not callable")) << e.what();
    }
    std::string text = log.finish();
    EXPECT_TRUE(contains(text, "no_such_attr")) << text;
}

TEST_F(BridgeTest, DefaultCallableNameAndDottedAttributes)
{
    AppSettings s = settings();
    s.callable = "bridge_app";  // no colon: "application"
    std::unique_ptr<WsgiBridge> plain = make_wsgi_bridge(s);
    Exchange ex;
    ex.run(*plain, get("/one"));
    EXPECT_EQ(ex.writer.body, "hello");

    s.callable = "bridge_app:ROUTES.get";  // a bound method reached through attributes
    EXPECT_NO_THROW(make_wsgi_bridge(s));
}

// ---- virtualenv -----------------------------------------------------------

int run_command(const std::vector<std::string>& argv, const std::string& log_path)
{
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        std::vector<char*> args;
        for (const std::string& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char* const kVenvApp = R"PY(
import sys
import venvonly_pkg


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s|%s|%s" % (venvonly_pkg.VALUE, sys.prefix, sys.executable)).encode()]
)PY";

// Python initialises once per process, and this one already runs without a
// virtualenv; the case runs in a fresh process (this binary, re-executed with
// a filter that selects VirtualenvChild).
TEST(Virtualenv, SitePackagesOfTheVenvAreImportable)
{
    std::string dir = make_temp_dir();
    std::string venv = dir + "/venv";
    ASSERT_EQ(run_command({"/usr/bin/python3", "-m", "venv", "--without-pip", venv}, dir + "/venv.log"), 0)
        << read_file(dir + "/venv.log");
    std::string site = venv + "/lib/python" + std::to_string(PY_MAJOR_VERSION) + "." +
                       std::to_string(PY_MINOR_VERSION) + "/site-packages";
    ASSERT_EQ(::mkdir((site + "/venvonly_pkg").c_str(), 0755), 0) << site;
    write_file(site + "/venvonly_pkg/__init__.py", "VALUE = 'from the venv'\n");
    ASSERT_EQ(::mkdir((dir + "/app").c_str(), 0755), 0);
    write_file(dir + "/app/venv_app.py", kVenvApp);

    ::setenv("DROVER_TEST_VENV", venv.c_str(), 1);
    ::setenv("DROVER_TEST_VENV_APP", (dir + "/app").c_str(), 1);
    int rc = run_command({"/proc/self/exe", "--gtest_filter=VirtualenvChild.*"}, dir + "/child.log");
    ::unsetenv("DROVER_TEST_VENV");
    ::unsetenv("DROVER_TEST_VENV_APP");
    std::string child_log = read_file(dir + "/child.log");
    EXPECT_EQ(rc, 0) << child_log;
    EXPECT_TRUE(contains(child_log, "[       OK ] VirtualenvChild.ServesFromTheVenv")) << child_log;
}

TEST(VirtualenvChild, ServesFromTheVenv)
{
    const char* venv = ::getenv("DROVER_TEST_VENV");
    const char* app = ::getenv("DROVER_TEST_VENV_APP");
    if (!venv || !app)
        GTEST_SKIP() << "runs in the process Virtualenv.SitePackagesOfTheVenvAreImportable starts";
    ASSERT_FALSE(Py_IsInitialized());
    AppSettings s;
    s.callable = "venv_app";
    s.virtualenv = venv;
    s.chdir = app;
    std::unique_ptr<WsgiBridge> bridge = make_wsgi_bridge(s);
    Exchange ex;
    ex.run(*bridge, get("/"));
    char real_venv[PATH_MAX];
    ASSERT_NE(::realpath(venv, real_venv), nullptr);
    EXPECT_EQ(ex.writer.body, std::string("from the venv|") + real_venv + "|" + real_venv + "/bin/python3");
}

} // namespace
} // namespace drover
