// Forking a worker, with the hygiene the child needs before it runs any
// worker code.
#pragma once

#include <sys/types.h>

#include <functional>

#include "base/result.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

/// Forks and runs run_worker(spec) in the child, which exits with its result.
/// Signals stay blocked across fork() so no master handler runs in the child;
/// the child restores default dispositions, closes every descriptor but
/// 0/1/2 and spec.keep_fds (the master's event loop, metrics socket and other
/// workers' descriptors), and only then unblocks signals.
Result<pid_t> spawn_worker(const WorkerSpec& spec);

/// The same hygiene for another entry point of the worker module (the
/// preloading zygote): the child runs entry() and exits with its result.
Result<pid_t> spawn_child(const WorkerSpec& spec, const std::function<int()>& entry);

} // namespace drover
