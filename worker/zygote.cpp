#include "worker/zygote.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "base/unique_fd.hpp"
#include "worker/python/bridge.hpp"
#include "worker/worker_loop.hpp"

namespace drover {

namespace {

bool send_message(int fd, const ZygoteMessage& m)
{
    for (;;) {
        if (::send(fd, &m, sizeof m, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof m))
            return true;
        if (errno != EINTR)
            return false;
    }
}

} // namespace

int run_zygote(const WorkerSpec& spec, int control_fd)
{
    ErrorLog::set_role("zygote");
    // The zygote holds nothing a client waits for: it goes with the master.
    if (!follow_master(spec.master_pid, SIGKILL))
        return kWorkerExitOk;
    std::unique_ptr<WsgiBridge> bridge;
    try {
        bridge = make_wsgi_bridge(spec.app);
    } catch (const std::exception& e) {
        log_error("cannot load the application: ", e.what());
        return kWorkerExitBootFailed;
    }
    ZygoteMessage ready;
    ready.kind = ZygoteMessage::ready;
    if (!send_message(control_fd, ready))
        return kWorkerExitError;
    log_info("application imported for generation ", spec.generation, "; forking workers on request");

    for (;;) {
        ZygoteMessage request;
        ssize_t n = ::recv(control_fd, &request, sizeof request, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return kWorkerExitOk;  // the master closed the socket: this generation is over
        if (n != static_cast<ssize_t>(sizeof request) || request.kind != ZygoteMessage::spawn)
            continue;

        // The child waits at this gate until the master has its pid, so a
        // worker that dies at once is never reaped as an unknown child.
        int gate[2];
        if (::pipe2(gate, O_CLOEXEC) < 0) {
            ZygoteMessage failed{ZygoteMessage::failed, request.slot, 0, errno};
            send_message(control_fd, failed);
            continue;
        }
        UniqueFd gate_read(gate[0]), gate_write(gate[1]);
        pid_t pid = fork_preloaded(spec.master_pid);
        if (pid == 0) {
            gate_write.reset();
            char c;
            while (::read(gate_read.get(), &c, 1) < 0 && errno == EINTR) {
            }
            gate_read.reset();
            UniqueFd control(control_fd);  // closed: the master talks to the zygote only
            control.reset();
            WorkerSpec mine = spec;
            mine.slot = request.slot;
            _exit(run_worker_with_bridge(mine, std::move(bridge)));
        }
        ZygoteMessage reply{pid > 0 ? ZygoteMessage::spawned : ZygoteMessage::failed, request.slot,
                            pid > 0 ? pid : 0, pid > 0 ? 0 : errno};
        send_message(control_fd, reply);
        gate_write.reset();  // opens the gate
    }
}

} // namespace drover
