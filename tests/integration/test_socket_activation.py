"""Sockets systemd passes (LISTEN_FDS with LISTEN_FDNAMES, as a socket unit
or the file descriptor store does), claimed by name or by exact address; a
passed socket nobody claims stops the start; unix sockets drover binds are
born with their group and mode; log files are handed to `user` before the
drop so workers can reopen them. A small launcher plays systemd: it binds,
puts the sockets at fd 3.., sets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES and
execs drover."""
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import APPS, drover_binary, free_port, stop_process, wait_until

LAUNCHER = r"""
import os, socket, sys
# argv: NAME=ADDR ... -- drover args; ADDR is HOST:PORT or unix:PATH
i = sys.argv.index("--")
socks, names = [], []
for spec in sys.argv[1:i]:
    name, addr = spec.split("=", 1)
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr[5:])
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    s.listen(64)
    socks.append(s)
    names.append(name)
high = [os.dup(s.fileno()) for s in socks]
for n, fd in enumerate(high):
    os.dup2(fd, 3 + n)
    os.set_inheritable(3 + n, True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = str(len(socks))
os.environ["LISTEN_FDNAMES"] = ":".join(names)
os.execv(sys.argv[i + 1], sys.argv[i + 1:])
"""


def launch(tmp_path, passed, drover_args):
    log = open(tmp_path / "drover.log", "wb")
    args = [sys.executable, "-c", LAUNCHER] + ["%s=%s" % p for p in passed] + ["--", drover_binary()] + drover_args
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def serves(port):
    def ok():
        try:
            return requests.get("http://127.0.0.1:%d/" % port, timeout=5).status_code == 200
        except requests.RequestException:
            return False
    return ok


def test_named_sockets_are_served_by_the_entries_that_name_them(tmp_path):
    web, api = free_port(), free_port()
    config = tmp_path / "drover.toml"
    config.write_text('app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\n'
                      'bind = [{ fd_name = "api", protocol = "http" }, { address = "127.0.0.1:%d", fd_name = "web" }]\n'
                      '[metrics]\naddress = ""\n' % (APPS, web))
    # "web" is passed on another port than the entry's address: the name wins.
    proc = launch(tmp_path, [("web", "127.0.0.1:%d" % free_port()), ("api", "127.0.0.1:%d" % api)],
                  ["-c", str(config)])
    try:
        wait_until(serves(api), 30, what="the socket named api to serve")
        text = (tmp_path / "drover.log").read_text()
        assert 'listening on http://fd:api (socket from systemd, fd 4, named "api")' in text
        assert 'named "web")' in text
        assert "bind() failed" not in text
    finally:
        stop_process(proc, timeout=30)
    assert proc.returncode == 0


def test_a_passed_socket_nobody_claims_stops_the_start(tmp_path):
    port, other = free_port(), free_port()
    proc = launch(tmp_path, [("drover.socket", "127.0.0.1:%d" % port), ("api", "127.0.0.1:%d" % other)],
                  ["-b", "127.0.0.1:%d" % port, "--metrics", "", "--pythonpath", str(APPS), "basic_app"])
    try:
        assert proc.wait(30) == 1
    finally:
        stop_process(proc, timeout=30)
    text = (tmp_path / "drover.log").read_text()
    assert ('socket fd 4 (name "api", 127.0.0.1:%d) passed by systemd is claimed by no bind entry' % other) in text


def test_an_entry_with_only_a_name_needs_its_socket(tmp_path):
    config = tmp_path / "drover.toml"
    config.write_text('app = "basic_app"\npythonpath = ["%s"]\n'
                      'bind = [{ fd_name = "web", protocol = "fastcgi" }]\n[metrics]\naddress = ""\n' % APPS)
    proc = subprocess.run([drover_binary(), "-c", str(config)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert 'cannot listen on fastcgi://fd:web: systemd passed no socket named "web" (no LISTEN_FDS)' in proc.stderr


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: files for another user and group")


def nobody():
    try:
        return pwd.getpwnam("nobody"), grp.getgrnam("nogroup")
    except KeyError:
        pytest.skip("no nobody/nogroup user here")


@pytest.fixture
def open_dir():
    """A directory every user can traverse (pytest's tmp_path is root's 0700)."""
    path = tempfile.mkdtemp(prefix="drover-privileges-", dir="/tmp")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@needs_root
def test_unix_socket_group_and_mode_and_logs_for_the_user(open_dir):
    tmp_path = open_dir
    user, group = nobody()
    logs = tmp_path / "logs"
    logs.mkdir()
    os.chown(logs, user.pw_uid, group.gr_gid)
    sock = tmp_path / "app.sock"
    port = free_port()
    config = tmp_path / "drover.toml"
    config.write_text(
        'app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\nuser = "nobody"\n'
        'bind = ["http://unix:%s", "127.0.0.1:%d"]\nunix_socket_group = "nogroup"\nunix_socket_mode = "0660"\n'
        '[metrics]\naddress = ""\n[log]\nerror = "%s/error.log"\naccess = "%s/access.log"\n'
        % (APPS, sock, port, logs, logs))
    # An error log left by an earlier run as root: handed over, not refused.
    (logs / "error.log").write_text("")
    os.chown(logs / "error.log", 0, 0)
    os.chmod(tmp_path / "logs" / "error.log", 0o640)
    proc = subprocess.Popen([drover_binary(), "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(serves(port), 30, what="drover to serve")
        st = os.lstat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        assert (st.st_uid, st.st_gid) == (0, group.gr_gid)
        for name in ("error.log", "access.log"):
            assert os.stat(logs / name).st_uid == user.pw_uid, name
        # logrotate: move both away, SIGUSR1, and every process reopens.
        os.rename(logs / "access.log", logs / "access.log.1")
        os.rename(logs / "error.log", logs / "error.log.1")
        os.kill(proc.pid, signal.SIGUSR1)
        wait_until(lambda: (logs / "error.log").exists(), 10, what="the master to reopen the error log")
        for _ in range(3):
            requests.get("http://127.0.0.1:%d/after" % port, timeout=10)
        wait_until(lambda: (logs / "access.log").exists() and "/after" in (logs / "access.log").read_text(), 10,
                   what="the worker to write the reopened access log")
        assert "reopening" not in (logs / "error.log").read_text() + (logs / "error.log.1").read_text()
        assert "running as root with no `user`" not in (logs / "error.log.1").read_text()
    finally:
        stop_process(proc, timeout=30)
    assert proc.returncode == 0


@needs_root
def test_root_without_user_is_warned(tmp_path):
    port = free_port()
    proc = subprocess.Popen([drover_binary(), "-b", "127.0.0.1:%d" % port, "-w", "1", "--metrics", "",
                             "--pythonpath", str(APPS), "basic_app"], stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "err.log", "wb"), start_new_session=True)
    try:
        wait_until(serves(port), 30, what="drover to serve")
    finally:
        stop_process(proc, timeout=30)
    assert "warning: master: running as root with no `user` set" in (tmp_path / "err.log").read_text()


@needs_root
def test_the_pidfile_holds_the_master_pid_and_is_removed_or_emptied_at_exit(open_dir):
    """Written as root before the drop to `user`; at exit `user` removes it
    where it may, and where it may not (a directory of root's, like /run)
    empties it, so the pid it held never names another process later."""
    user, group = nobody()
    for owner, left in ((user.pw_uid, None), (0, "")):
        run = open_dir / ("run-%d" % owner)
        run.mkdir()
        os.chown(run, owner, group.gr_gid)
        os.chmod(run, 0o755)
        pidfile = run / "drover.pid"
        port = free_port()
        config = open_dir / "drover.toml"
        config.write_text('app = "basic_app"\npythonpath = ["%s"]\nworkers = 1\nuser = "nobody"\nbind = ["127.0.0.1:%d"]\n'
                          'pidfile = "%s"\n[metrics]\naddress = ""\n' % (APPS, port, pidfile))
        err = open_dir / ("err-%d.log" % owner)
        proc = subprocess.Popen([drover_binary(), "-c", str(config)], stdout=subprocess.DEVNULL,
                                stderr=open(err, "wb"), start_new_session=True)
        try:
            wait_until(serves(port), 30, what="drover to serve")
            assert pidfile.read_text() == "%d\n" % proc.pid
            assert os.stat(pidfile).st_uid == 0
        finally:
            stop_process(proc, timeout=30)
        assert proc.returncode == 0, err.read_text()
        if left is None:
            assert not pidfile.exists(), err.read_text()
        else:
            assert pidfile.read_text() == left
            assert "pidfile %s emptied but left in place" % pidfile in err.read_text()
