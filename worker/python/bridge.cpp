// The WSGI bridge: one application call per request, on the worker's one
// thread. The GIL is held for the call and let go around every wait on the
// client (body reads, response writes), so application threads keep going.
#include "worker/python/bridge.hpp"

#include <exception>
#include <stdexcept>

#include "base/cidr.hpp"
#include "base/log.hpp"
#include "worker/forwarded.hpp"
#include "worker/python/environ.hpp"
#include "worker/python/errors.hpp"
#include "worker/python/gil.hpp"
#include "worker/python/input.hpp"
#include "worker/python/interpreter.hpp"
#include "worker/python/response.hpp"

// after Python.h (gil.hpp), which must come first
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/unique_fd.hpp"

namespace drover {

namespace {

// Long enough to recognise the request, short enough for one log line.
constexpr size_t kMaxContextLength = 200;

std::string describe(const Request& request)
{
    std::string_view method = request.param("REQUEST_METHOD");
    std::string target;
    if (request.has_param("REQUEST_URI")) {
        target = request.param("REQUEST_URI");
    } else {
        target = cat(request.param("SCRIPT_NAME"), request.param("PATH_INFO"));
        if (!request.param("QUERY_STRING").empty())
            target = cat(target, "?", request.param("QUERY_STRING"));
    }
    if (target.size() > kMaxContextLength)
        target = cat(target.substr(0, kMaxContextLength), "...");
    return cat(method.empty() ? std::string_view("GET") : method, " ", target);
}

/// The answer to a request whose forwarding headers a trusted proxy got
/// wrong: the application never sees it. Without the GIL: nothing here is
/// Python, and the writes may wait on the client.
RequestOutcome refuse_forwarded(const Request& request, const ForwardedResult& forwarded, ResponseWriter& response)
{
    log_info(protocol_name(request.protocol), " request from ", forwarded.client.empty() ? "-" : forwarded.client,
             " refused: ", forwarded.error);
    static const HeaderList headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    constexpr std::string_view body = "Bad Request: conflicting or malformed forwarding headers\n";
    RequestOutcome outcome;
    outcome.status = 400;
    try {
        response.start(400, "400 Bad Request", headers, static_cast<int64_t>(body.size()));
        bool sent = (request.head || response.write(body)) && response.finish();
        outcome.client_gone = !sent;
        if (sent && !request.head)
            outcome.response_bytes = body.size();
    } catch (const std::exception& e) {
        log_error(describe(request), ": ", e.what());
        outcome.close_connection = true;
    }
    return outcome;
}

class Bridge final : public WsgiBridge {
public:
    Bridge(const AppSettings& settings, PyRef app)
        : trusted_proxies_(settings.forwarded_allow_ips),
          python_(std::make_unique<Python>(std::move(app), settings.script_name))
    {
    }

    ~Bridge() override
    {
        // Dropping the last references runs Python code (finalisers).
        GilHold gil;
        python_.reset();
        // The worker leaves with _exit(): what Python would do at exit, the
        // parts an app can see, happens here (atexit handlers, buffered
        // print() output). Py_FinalizeEx is not called: it would wait for
        // the app's non-daemon threads.
        if (PyRun_SimpleString("import atexit, sys\n"
                               "atexit._run_exitfuncs()\n"
                               "for f in (sys.stdout, sys.stderr):\n"
                               "    try:\n"
                               "        f.flush()\n"
                               "    except Exception:\n"
                               "        pass\n") != 0)
            PyErr_Clear();
    }

    RequestOutcome handle(const Request& request, const PeerInfo& peer, BodySource& body,
                          ResponseWriter& response) override
    {
        // Before the GIL: pure C++, and a refused request costs no Python.
        ForwardedResult forwarded = resolve_forwarded(request, peer.remote_addr, trusted_proxies_);
        RequestOutcome outcome = forwarded.error.empty() ? run_app(request, peer, forwarded, body, response)
                                                         : refuse_forwarded(request, forwarded, response);
        outcome.client = std::move(forwarded.client);
        return outcome;
    }

private:
    struct Python {
        Python(PyRef callable, std::string_view script_name)
            : app(std::move(callable)), errors(make_error_stream()), environ(script_name)
        {
            if (!errors) {
                PyErr_Clear();
                throw std::runtime_error("cannot create wsgi.errors");
            }
        }
        PyRef app;
        PyRef errors;
        EnvironBuilder environ;
    };

    RequestOutcome run_app(const Request& request, const PeerInfo& peer, const ForwardedResult& forwarded,
                           BodySource& body, ResponseWriter& response)
    {
        GilHold gil;
        std::string context = describe(request);
        try {
            return call(request, peer, forwarded, body, response, context);
        } catch (const std::exception& e) {
            // The connection's writer, or an allocation, failed under us.
            PyErr_Clear();
            log_error("app: ", context, ": ", e.what());
            RequestOutcome outcome;
            outcome.status = 500;
            outcome.close_connection = true;
            return outcome;
        }
    }

    RequestOutcome call(const Request& request, const PeerInfo& peer, const ForwardedResult& forwarded,
                        BodySource& body, ResponseWriter& response, const std::string& context)
    {
        PyRef input = make_input(body);
        RequestOutcome outcome;
        {
            WsgiResponse reply(response, request.head, context);
            reply.set_input(input.get());
            PyRef environ;
            if (input && reply.start_response())
                environ = python_->environ.build(request, peer, forwarded, input.get(), python_->errors.get());
            if (!environ) {
                outcome = reply.fail();
            } else {
                PyRef result = PyRef::steal(PyObject_CallFunctionObjArgs(python_->app.get(), environ.get(),
                                                                         reply.start_response(), nullptr));
                outcome = reply.run(std::move(result));
            }
        }
        // The body and the connection die with this request; references the
        // application kept (in a thread, a global) must not reach them.
        detach_input(input.get());
        // A partial line belongs to this request's log context.
        flush_error_stream(python_->errors.get());
        return outcome;
    }

    const CidrSet trusted_proxies_;  ///< forwarded_allow_ips
    std::unique_ptr<Python> python_;
};

} // namespace

std::unique_ptr<WsgiBridge> make_wsgi_bridge(const AppSettings& settings)
{
    start_interpreter(settings.virtualenv);
    GilHold gil;
    prepare_sys_path(settings);
    PyRef app = load_application(settings.callable);
    auto bridge = std::make_unique<Bridge>(settings, std::move(app));
    log_info("application ", settings.callable, " loaded");
    return bridge;
}

} // namespace drover

namespace drover {

pid_t fork_preloaded(pid_t adopter)
{
    // Real fork()s, so glibc's fork handlers run: a lock an application
    // thread holds at this moment (the allocator's, stdio's) is not left held
    // in the worker for ever, as it was with a raw clone(CLONE_PARENT). The
    // worker must still be the master's child (the master reaps and watches
    // it): an intermediate child forks it and exits at once, and the orphan
    // is adopted by the master, a child subreaper (PR_SET_CHILD_SUBREAPER).
    //
    // CPython must see the fork: PyOS_BeforeFork takes its import lock, and
    // PyOS_AfterFork_Child, in the worker itself (so os.register_at_fork
    // hooks see the worker's pid), resets the GIL and threading state. The
    // intermediate runs no Python at all: single-threaded, it just forks.
    int report[2];
    if (::pipe2(report, O_CLOEXEC) < 0)
        return -1;
    UniqueFd report_read(report[0]), report_write(report[1]);
    GilHold gil;
    PyOS_BeforeFork();
    pid_t middle = ::fork();
    if (middle == 0) {
        report_read.reset();
        pid_t worker = ::fork();
        if (worker == 0) {
            report_write.reset();
            // Adopted once the intermediate is gone: only then may the worker
            // ask for its master's death signal (follow_master).
            for (int waited_ms = 0; ::getppid() != adopter && waited_ms < 2000; ++waited_ms) {
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, nullptr);
            }
            PyOS_AfterFork_Child();
            return 0;
        }
        int result[2] = {worker, worker < 0 ? errno : 0};
        ssize_t ignored = ::write(report_write.get(), result, sizeof result);
        (void)ignored;
        _exit(0);
    }
    int saved = errno;
    PyOS_AfterFork_Parent();
    if (middle < 0) {
        errno = saved;
        return -1;
    }
    report_write.reset();
    int result[2] = {-1, EPIPE};
    ssize_t n;
    do {
        n = ::read(report_read.get(), result, sizeof result);
    } while (n < 0 && errno == EINTR);
    while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (n != static_cast<ssize_t>(sizeof result)) {
        errno = EPIPE;
        return -1;
    }
    if (result[0] < 0)
        errno = result[1];
    return result[0];
}

} // namespace drover
