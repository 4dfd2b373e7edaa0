// Inside the worker module: run_worker() with an application already loaded
// (a worker forked by the preloading zygote).
#pragma once

#include <memory>

#include "worker/python/bridge.hpp"
#include "worker/worker_spec.hpp"

namespace drover {

int run_worker_with_bridge(const WorkerSpec& spec, std::unique_ptr<WsgiBridge> bridge);

} // namespace drover
