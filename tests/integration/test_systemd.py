"""drover under systemd's interfaces: socket activation (LISTEN_FDS, driven by
the real systemd-socket-activate) and sd_notify (READY=1, STATUS=,
RELOADING=1, STOPPING=1 on a NOTIFY_SOCKET the test listens on)."""
import os
import shutil
import signal
import socket
import subprocess

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
