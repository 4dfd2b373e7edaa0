// What the WSGI bridge tests share: a real embedded CPython running a test
// application (bridge_app.py, in bridge_fixture.cpp, written to a temporary
// directory), a fake BodySource and a recording ResponseWriter in place of a
// connection, and one bridge for the whole test program (the interpreter is
// per process).
#pragma once

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

/// The test application's source.
extern const char* const kBridgeApp;

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

inline PeerInfo test_peer() { return PeerInfo{"192.0.2.7", "40000", "srv.example", "8080"}; }

inline Request get(const std::string& path, const std::string& query = "")
{
    Request r;
    r.params = {{"REQUEST_METHOD", "GET"},
                {"PATH_INFO", path},
                {"QUERY_STRING", query},
                {"SERVER_PROTOCOL", "HTTP/1.1"},
                {"HTTP_HOST", "example.test"}};
    return r;
}

inline Request post(const std::string& path, const std::string& query, size_t length)
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


inline std::string make_temp_dir()
{
    char tmpl[] = "/tmp/drover-bridge-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    if (!dir)
        throw std::runtime_error("mkdtemp failed");
    TempDirs::list().push_back(dir);
    return dir;
}

inline void write_file(const std::string& path, const std::string& content)
{
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

inline std::string utf8(PyObject* text)
{
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(text, &size);
    return data ? std::string(data, static_cast<size_t>(size)) : std::string("<undecodable>");
}

// Evaluates expr in bridge_app's namespace: str() of the value, or
// "!" + the exception's last traceback line.
inline std::string py(const std::string& expr)
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

inline bool contains(const std::string& haystack, const std::string& needle)
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
        write_file(app_dir_ + "/bridge_app.py", kBridgeApp);
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

} // namespace drover
