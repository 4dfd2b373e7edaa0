"""The master's metrics listener out of file descriptors (issue 9, defect 6).

With the master's fd limit lowered (prlimit, soft limit only) to what it
holds, connections to /metrics cannot be accepted. The listener must pause
instead of retrying at once: the master stays near 0 % CPU and writes one
log line, not one per loop turn; once the limit is back, the waiting clients
are answered and /metrics serves again."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import app_args, free_port, recv_all

PRLIMIT = shutil.which("prlimit")


def cpu_seconds(pid):
    text = Path("/proc/%d/stat" % pid).read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nofile(pid):
    for line in Path("/proc/%d/limits" % pid).read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no Max open files in /proc/%d/limits" % pid)


@pytest.mark.skipif(PRLIMIT is None, reason="prlimit (util-linux) is not installed")
def test_metrics_listener_out_of_fds_pauses_instead_of_spinning(start_drover, http_port):
    mport = free_port()
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "1", "--metrics", "127.0.0.1:%d" % mport,
                     *app_args(), workers=1)
    assert requests.get("http://127.0.0.1:%d/healthz" % mport, timeout=10).status_code == 200
    soft, hard = nofile(d.pid)
    held = len(os.listdir("/proc/%d/fd" % d.pid))
    subprocess.run([PRLIMIT, "--pid", str(d.pid), "--nofile=%d:%d" % (held, hard)], check=True)
    lines_before = d.log().count("\n")
    clients = []
    try:
        for _ in range(4):
            c = socket.create_connection(("127.0.0.1", mport), timeout=10)
            c.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            clients.append(c)
        cpu_before = cpu_seconds(d.pid)
        time.sleep(2)
        cpu = cpu_seconds(d.pid) - cpu_before
        new_log = d.log().splitlines()[lines_before:]
        assert cpu < 0.2, "the master spent %.2f s of CPU in 2 s: %s" % (cpu, new_log[:3])
        assert 1 <= len(new_log) <= 2, new_log[:5]
        assert "accept() failed: Too many open files" in new_log[0], new_log

        subprocess.run([PRLIMIT, "--pid", str(d.pid), "--nofile=%d:%d" % (soft, hard)], check=True)
        for c in clients:
            data = recv_all(c)
            assert data.startswith(b"HTTP/1.") and b"\r\n\r\nok: 1 workers ready\n" in data, data
    finally:
        for c in clients:
            c.close()
    assert requests.get("http://127.0.0.1:%d/metrics" % mport, timeout=10).status_code == 200
    assert d.proc.poll() is None
