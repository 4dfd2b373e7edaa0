// The embedded interpreter and the application it loads.
#pragma once

#include <string>

#include "worker/worker_spec.hpp"
#include "worker/python/pyref.hpp"

namespace drover {

/// Initialises CPython once per process, for virtualenv when it is not
/// empty; a later call finds it running and only checks that the virtualenv
/// matches. Returns with the GIL released: whoever runs Python takes it
/// (GilHold), so threads the application starts run between requests.
/// Throws std::runtime_error.
void start_interpreter(const std::string& virtualenv);

/// chdir(settings.chdir) when set, then puts settings.pythonpath and the
/// working directory first on sys.path, as gunicorn does. GIL held; throws
/// std::runtime_error.
void prepare_sys_path(const AppSettings& settings);

/// Imports "pkg.module:attr.attr" (the attribute defaults to "application")
/// and returns the callable. On failure logs the module, sys.path and the
/// traceback, then throws std::runtime_error with a one-line reason. GIL held.
PyRef load_application(const std::string& spec);

} // namespace drover
