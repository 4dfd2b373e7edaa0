// The preloading zygote (preload = true): a child of the master that imports
// the application once per generation and then forks that generation's
// workers on request, adopted by the master, so they are the master's children
// and share the imported code copy-on-write. A reload starts a new zygote,
// so new code is imported; the master itself never imports Python.
#pragma once

#include <cstdint>

#include "worker/worker_spec.hpp"

namespace drover {

/// One message on the master <-> zygote socket (SOCK_SEQPACKET).
struct ZygoteMessage {
    enum Kind : uint32_t {
        ready = 1,    ///< zygote -> master: the application is imported
        spawn = 2,    ///< master -> zygote: fork a worker for slot
        spawned = 3,  ///< zygote -> master: pid serves slot
        failed = 4,   ///< zygote -> master: the fork for slot failed with err
    };
    uint32_t kind = 0;
    uint32_t slot = 0;
    int32_t pid = 0;
    int32_t err = 0;
};

/// Runs the zygote for spec's generation: imports the application, reports
/// ready on control_fd, then forks one worker (spec with the requested slot)
/// per spawn message until the master closes the socket. Returns the exit
/// code (kWorkerExitBootFailed when the import fails).
int run_zygote(const WorkerSpec& spec, int control_fd);

} // namespace drover
