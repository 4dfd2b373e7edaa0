// CPython comes up after the fork, in the worker (or the zygote), with the
// settings a service needs: no signal handlers of its own (signals stay with
// drover's event loop), no command line to parse, and sys.executable pointing
// at a real interpreter, so subprocess and multiprocessing behave.
#include "worker/python/interpreter.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "base/log.hpp"
#include "worker/python/gil.hpp"
#include "worker/python/python_error.hpp"

#ifndef DROVER_PYTHON_EXECUTABLE
#define DROVER_PYTHON_EXECUTABLE "/usr/bin/python3"
#endif

namespace drover {

namespace {

class ConfigGuard {
public:
    explicit ConfigGuard(PyConfig& config) : config_(config) {}
    ~ConfigGuard() { PyConfig_Clear(&config_); }
    ConfigGuard(const ConfigGuard&) = delete;
    ConfigGuard& operator=(const ConfigGuard&) = delete;

private:
    PyConfig& config_;
};

void check(PyStatus status, const char* step)
{
    if (PyStatus_Exception(status))
        throw std::runtime_error(cat("Python initialisation failed (", step, "): ",
                                     status.err_msg ? status.err_msg : "unknown error"));
}

std::string real_path(const std::string& path, const char* what)
{
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved))
        throw std::runtime_error(cat(what, " ", path, ": realpath() failed: ", std::strerror(errno)));
    return resolved;
}

std::string utf8(PyObject* text)
{
    Py_ssize_t size = 0;
    const char* data = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &size) : nullptr;
    if (!data) {
        PyErr_Clear();
        return {};
    }
    return std::string(data, static_cast<size_t>(size));
}

std::string repr(PyObject* object)
{
    PyRef text = PyRef::steal(object ? PyObject_Repr(object) : nullptr);
    return text ? utf8(text.get()) : std::string("?");
}

// The venv takes effect through sys.prefix (site.py adds its site-packages
// from there); a prefix elsewhere means packages would silently come from
// the system instead. GIL held.
void check_prefix(const std::string& venv, bool was_running)
{
    std::string prefix = utf8(PySys_GetObject("prefix"));
    char resolved[PATH_MAX];
    if (prefix.empty() || !::realpath(prefix.c_str(), resolved) || venv != resolved)
        throw std::runtime_error(cat("virtualenv ", venv, " is not active: sys.prefix is ", prefix,
                                     was_running ? " (Python was already running in this process)" : ""));
}

void initialise(const std::string& venv)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    ConfigGuard guard(config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    // Leave the C stdio of the host process as it is.
    config.configure_c_stdio = 0;
    // A service's imports must not depend on the $HOME of whoever started
    // it (~/.local/lib/python3.11/site-packages); a virtualenv is the way to
    // add packages.
    config.user_site_directory = 0;
    // getpath finds a venv by the pyvenv.cfg next to the executable's
    // directory, so "<venv>/bin/python3" as the program name gives exactly
    // the sys.prefix and site-packages that running the venv's python has.
    std::string program = venv.empty() ? std::string(DROVER_PYTHON_EXECUTABLE) : venv + "/bin/python3";
    check(PyConfig_SetBytesString(&config, &config.program_name, program.c_str()), "program_name");
    char arg0[] = "drover";
    char* argv[] = {arg0};
    check(PyConfig_SetBytesArgv(&config, 1, argv), "argv");
    check(Py_InitializeFromConfig(&config), "Py_InitializeFromConfig");
}

} // namespace

void start_interpreter(const std::string& virtualenv)
{
    std::string venv;
    if (!virtualenv.empty()) {
        venv = real_path(virtualenv, "virtualenv");
        if (::access((venv + "/pyvenv.cfg").c_str(), R_OK) != 0)
            throw std::runtime_error(cat("virtualenv ", venv, " has no readable pyvenv.cfg: ",
                                         std::strerror(errno)));
    }
    if (Py_IsInitialized()) {
        if (!venv.empty()) {
            GilHold gil;
            check_prefix(venv, true);
        }
        return;
    }
    initialise(venv);
    if (!venv.empty())
        check_prefix(venv, false);
    log_info("Python ", Py_GetVersion(), venv.empty() ? "" : " in virtualenv ", venv);
    // The master asks for a worker's Python traceback with SIGUSR2 (slow and
    // timed-out requests). faulthandler writes it from its C signal handler,
    // so it works while the worker is stuck in C code too; fd 2 is the error
    // log, and stays so across log reopening (dup2 onto fd 2).
    if (PyRun_SimpleString("import faulthandler, signal\n"
                           "faulthandler.register(signal.SIGUSR2, all_threads=True, chain=False)\n") != 0)
        log_warning("faulthandler.register(SIGUSR2) failed: no tracebacks for slow or timed-out requests");
    // Initialisation left this thread holding the GIL; from now on Python
    // runs only inside GilHold scopes.
    PyEval_SaveThread();
}

void prepare_sys_path(const AppSettings& settings)
{
    if (!settings.chdir.empty() && ::chdir(settings.chdir.c_str()) != 0)
        throw std::runtime_error(cat("chdir(", settings.chdir, ") failed: ", std::strerror(errno)));
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd))
        throw std::runtime_error(cat("getcwd() failed: ", std::strerror(errno)));

    std::vector<std::string> entries = settings.pythonpath;
    entries.emplace_back(cwd);
    PyObject* path = PySys_GetObject("path");  // borrowed
    if (!path || !PyList_Check(path))
        throw std::runtime_error("sys.path is not a list");
    for (size_t i = 0; i < entries.size(); ++i) {
        PyRef entry = PyRef::steal(PyUnicode_DecodeFSDefault(entries[i].c_str()));
        if (!entry) {
            PyErr_Clear();
            throw std::runtime_error(cat("cannot put ", entries[i], " on sys.path"));
        }
        // Another bridge in this process may have put it there already; it
        // moves to its place instead of appearing twice.
        for (Py_ssize_t j = PyList_GET_SIZE(path) - 1; j >= 0; --j) {
            int same = PyObject_RichCompareBool(PyList_GET_ITEM(path, j), entry.get(), Py_EQ);
            if (same > 0)
                PySequence_DelItem(path, j);
        }
        PyErr_Clear();
        if (PyList_Insert(path, static_cast<Py_ssize_t>(i), entry.get()) < 0) {
            PyErr_Clear();
            throw std::runtime_error(cat("cannot put ", entries[i], " on sys.path"));
        }
    }
}

PyRef load_application(const std::string& spec)
{
    size_t colon = spec.find(':');
    std::string module_name = spec.substr(0, colon);
    std::string attribute = colon == std::string::npos ? "application" : spec.substr(colon + 1);
    if (module_name.empty() || attribute.empty())
        throw std::runtime_error(cat("invalid application '", spec, "': expected MODULE[:CALLABLE]"));

    PyRef object = PyRef::steal(PyImport_ImportModule(module_name.c_str()));
    if (!object) {
        PythonError error = PythonError::fetch();
        log_python_error(error, cat("cannot import application module ", module_name, " (sys.path: ",
                                    repr(PySys_GetObject("path")), ")"));
        throw std::runtime_error(cat("cannot import application module ", module_name, ": ", error.summary()));
    }
    std::string_view rest = attribute;
    while (!rest.empty()) {
        std::string name(rest.substr(0, rest.find('.')));
        rest.remove_prefix(std::min(rest.size(), name.size() + 1));
        PyRef next = PyRef::steal(PyObject_GetAttrString(object.get(), name.c_str()));
        if (!next) {
            PythonError error = PythonError::fetch();
            log_python_error(error, cat("application ", spec, ": cannot get ", name, " from ", repr(object.get())));
            throw std::runtime_error(cat("application ", spec, ": ", error.summary()));
        }
        object = std::move(next);
    }
    if (!PyCallable_Check(object.get())) {
        log_error("application ", spec, " is not callable: ", repr(object.get()));
        throw std::runtime_error(cat("application ", spec, " is not callable (", Py_TYPE(object.get())->tp_name,
                                     ")"));
    }
    return object;
}

} // namespace drover
