"""drover under systemd's interfaces: socket activation (LISTEN_FDS, driven by
the real systemd-socket-activate) and sd_notify (READY=1, STATUS=,
RELOADING=1, STOPPING=1 on a NOTIFY_SOCKET the test listens on)."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import APPS, drover_binary, free_port, wait_until


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"), reason="systemd-socket-activate missing")
def test_socket_activation_adopts_the_passed_socket(tmp_path):
    port = free_port()
    log = tmp_path / "drover.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port, drover_binary(),
             "-b", "127.0.0.1:%d" % port, "-w", "2", "--metrics", "", "--pythonpath", str(APPS), "basic_app"],
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        # systemd-socket-activate accepts nothing itself: the first connection
        # execs drover with the socket as fd 3.
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, 10, what="systemd-socket-activate to listen")
        r = requests.get("http://127.0.0.1:%d/" % port, timeout=20)
        assert r.status_code == 200
        assert r.text == "hello from drover\n"
        text = log.read_text()
        assert "listening on 127.0.0.1:%d (socket from systemd, fd 3)" % port in text
        assert "bind() failed" not in text
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0


def test_sd_notify_ready_reloading_stopping(tmp_path, http_port):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(20)
    messages = []

    def wait_for(prefix):
        while True:
            for m in messages:
                if m.startswith(prefix):
                    return m
            messages.extend(listener.recv(4096).decode().split("\n"))

    env = dict(os.environ, NOTIFY_SOCKET=path)
    proc = subprocess.Popen([drover_binary(), "-b", "127.0.0.1:%d" % http_port, "-w", "2", "--metrics", "",
                             "--pythonpath", str(APPS), "basic_app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        wait_for("READY=1")
        # READY means served: a request right away succeeds
        assert requests.get("http://127.0.0.1:%d/" % http_port, timeout=10).status_code == 200
        assert wait_for("STATUS=").startswith("STATUS=generation 1: 2 workers")
        messages.clear()
        os.kill(proc.pid, signal.SIGHUP)
        wait_for("RELOADING=1")
        wait_for("READY=1")
        assert "generation 2" in wait_for("STATUS=generation 2")
        os.kill(proc.pid, signal.SIGTERM)
        wait_for("STOPPING=1")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()


def test_watchdog_pings_come_from_the_tick_and_stop_while_the_master_is_stalled(tmp_path, http_port):
    """WATCHDOG=1 at half of WATCHDOG_USEC, sent from the master loop's tick:
    a master stopped (SIGSTOP) sends none, so systemd would kill it. And
    RELOADING=1 carries MONOTONIC_USEC (systemd 253+)."""
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    received = []  # (monotonic time, message)

    def collect(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            listener.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = listener.recv(4096).decode()
            except socket.timeout:
                break
            received.extend((time.monotonic(), m) for m in data.split("\n") if m)

    def pings(since, until=None):
        return [t for t, m in received if m == "WATCHDOG=1" and t >= since and (until is None or t < until)]

    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")  # pings every 0.2 s
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([drover_binary(), "-b", "127.0.0.1:%d" % http_port, "-w", "1", "--metrics", "",
                             "--pythonpath", str(APPS), "basic_app"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        started = time.monotonic()
        collect(2.0)
        assert any(m == "READY=1" for _, m in received), received
        running = pings(started + 0.5)
        assert len(running) >= 5, received  # about 7 in 1.5 s
        gaps = [b - a for a, b in zip(running, running[1:])]
        assert max(gaps) < 0.5, gaps
        os.kill(proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        collect(1.0)
        os.kill(proc.pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        assert pings(stopped_at + 0.05, resumed_at) == [], "pings while the master was stopped"
        collect(1.0)
        assert len(pings(resumed_at)) >= 2, "no pings after the master resumed"
        os.kill(proc.pid, signal.SIGHUP)
        collect(2.0)
        reloading = [m for _, m in received if m.startswith("RELOADING=1") or m.startswith("MONOTONIC_USEC=")]
        assert "RELOADING=1" in reloading and any(m.startswith("MONOTONIC_USEC=") for m in reloading), received
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
