"""What every test suite here (integration, systemd, fleet) does the same
way: wait for a condition, and stop a process it started by its pid."""
import os
import signal
import subprocess
import time


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate until it returns a true value, which it returns;
    fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def stop_process(proc, sig=signal.SIGTERM, timeout=15):
    """Stops a process the test started (a subprocess.Popen made with
    start_new_session), by its pid: sig (after SIGCONT, should it be
    stopped), SIGKILL after timeout, then SIGKILL to its session's process
    group, where the workers of a killed master would be."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGCONT)
            os.kill(proc.pid, sig)
            proc.wait(timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
