"""A Debian 12 container with systemd as PID 1 and the built drover package
installed in it: a debootstrap tree (cached by tests/systemd/image.sh)
booted with systemd-nspawn, driven through nsenter. The container shares the
host's network namespace (loopback included), so everything in it listens
on free loopback ports the test picks, or on unix sockets.

Skipped, with the reason, where the machine cannot: not root, no
debootstrap/systemd-nspawn/nsenter, no Debian mirror to build the tree from.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "support"))
from processes import wait_until  # noqa: E402  (the tests import it from here)

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deb_path():
    out = os.environ.get("DROVER_DEB_DIR", str(HERE.parent.parent / "build-deb"))
    debs = sorted(glob.glob(os.path.join(out, "drover_*.deb")))
    if not debs:
        pytest.exit("no drover_*.deb in %s: run make deb (make test-systemd does)" % out, returncode=1)
    return debs[-1]


def runtime_depends(deb):
    """The package names the .deb depends on, for the image to carry."""
    text = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True, capture_output=True, text=True).stdout
    names = []
    for part in text.split(","):
        first = part.split("|")[0].strip()
        if first:
            names.append(first.split()[0].split(":")[0])
    return names


class Container:
    """A booted container: run() executes a command in all its namespaces."""

    def __init__(self, root, leader, log_path):
        self.root = Path(root)
        self.leader = leader
        self.log_path = log_path

    def command(self, args):
        return ["nsenter", "-t", str(self.leader), "-a", "env", "-i", "PATH=" + PATH, "LANG=C.UTF-8",
                "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"] + list(args)

    def run(self, *args, check=True, timeout=120, input=None):
        proc = subprocess.run(self.command(args), capture_output=True, text=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError("in the container: %s exited %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def sh(self, script, check=True, timeout=120):
        return self.run("sh", "-ec", script, check=check, timeout=timeout)

    def popen(self, *args, stdout=subprocess.PIPE):
        return subprocess.Popen(self.command(args), stdout=stdout, stderr=subprocess.STDOUT, text=True)

    def write(self, path, text, mode=0o644):
        """Writes a file inside the container (through its root on the host)."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.chmod(target, mode)

    def read(self, path):
        return (self.root / path.lstrip("/")).read_text()

    def exists(self, path):
        # Asked inside: /run and /tmp are the container's own tmpfs mounts.
        return self.run("test", "-e", path, check=False).returncode == 0


def children_of(pid):
    try:
        text = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(autouse=True)
def journal_on_failure(request):
    """A failed test shows what drover and systemd said meanwhile."""
    yield
    report = getattr(request.node, "rep_call", None)
    box = request.node.funcargs.get("box")
    if box is not None and report is not None and report.failed:
        out = box.run("journalctl", "--no-pager", "-n", "60", "-u", "drover*", check=False).stdout
        print("---- journalctl -u 'drover*' (last 60 lines)\n" + out)


@pytest.fixture(scope="session")
def container():
    if os.geteuid() != 0:
        pytest.skip("the systemd container test needs root (debootstrap, systemd-nspawn)")
    for tool in ("debootstrap", "systemd-nspawn", "nsenter", "dpkg-deb"):
        if not shutil.which(tool):
            pytest.skip("%s is missing (scripts/install-deps.sh --for systemd installs it)" % tool)
    deb = deb_path()
    image = subprocess.run([str(HERE / "image.sh")] + runtime_depends(deb), capture_output=True, text=True)
    if image.returncode != 0:
        pytest.skip("cannot build the Debian 12 tree (no mirror reachable?):\n" + image.stderr[-2000:])
    tar = image.stdout.strip().splitlines()[-1]

    work = tempfile.mkdtemp(prefix="drover-systemd-", dir="/var/tmp")
    # A machine name is a host name: mkdtemp's suffix may hold "_", which is not.
    name = os.path.basename(work).replace("_", "x")
    root = os.path.join(work, "root")
    os.mkdir(root)
    subprocess.run(["tar", "-C", root, "-xf", tar], check=True)
    shutil.copy(deb, os.path.join(root, "root", "drover.deb"))
    log_path = os.path.join(work, "nspawn.log")
    log = open(log_path, "wb")
    # --keep-unit and --register=no: the host's PID 1 need not be systemd.
    nspawn = subprocess.Popen(
        ["systemd-nspawn", "-D", root, "-M", name, "--boot", "--register=no", "--keep-unit", "--console=pipe"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def leader():
            if nspawn.poll() is not None:
                raise AssertionError("systemd-nspawn exited %s:\n%s" % (nspawn.returncode, Path(log_path).read_text()))
            kids = children_of(nspawn.pid)
            return kids[0] if kids else None
        pid1 = wait_until(leader, 30, what="the container's PID 1")
        box = Container(root, pid1, log_path)

        def booted():
            state = box.run("systemctl", "is-system-running", check=False).stdout.strip()
            return state in ("running", "degraded")
        try:
            wait_until(booted, 90, interval=0.5, what="the container to boot")
        except AssertionError:
            failed = box.run("systemctl", "--failed", "--no-legend", check=False).stdout
            raise AssertionError("the container did not boot; failed units:\n" + failed)
        box.run("dpkg", "-i", "/root/drover.deb", timeout=180)
        yield box
    finally:
        if nspawn.poll() is None:
            kids = children_of(nspawn.pid)
            if kids:
                subprocess.run(["nsenter", "-t", str(kids[0]), "-a", "systemctl", "poweroff"],
                               capture_output=True, timeout=30)
            try:
                nspawn.wait(60)
            except subprocess.TimeoutExpired:
                nspawn.kill()
                nspawn.wait(10)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
        # What nspawn leaves on a host whose PID 1 is not systemd.
        shutil.rmtree("/run/systemd/nspawn/propagate/" + name, ignore_errors=True)
