"""What the report says about the machine and the software on it."""
import os
import platform
import re
import subprocess
from pathlib import Path


def _run(args, cwd=None):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=cwd)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def loadavg():
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def machine():
    cpu = "?"
    try:
        m = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else platform.processor()
    except OSError:
        pass
    mem = ""
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        mem = "%.1f GiB" % (int(m.group(1)) / 1024 / 1024)
    except OSError:
        pass
    virt = _run(["systemd-detect-virt"]) or "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "memory": mem,
            "virtualization": virt, "hostname": platform.node(), "debian": _debian()}


def _debian():
    try:
        return Path("/etc/debian_version").read_text().strip()
    except OSError:
        return "?"


def _dpkg(pkg):
    return _run(["dpkg-query", "-W", "-f=${Version}", pkg]) or "not installed"


def versions(root, drover):
    rev = _run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=str(root))
    subject = _run(["git", "log", "-1", "--format=%s"], cwd=str(root))
    return {
        "drover": "%s (%s)" % (rev, subject[:80]),
        "drover_binary": str(drover),
        "drover_version": _run([str(drover), "--version"]).splitlines()[0] if Path(drover).exists() else "?",
        "uwsgi": "%s (plugin python3 %s)" % (_run(["uwsgi", "--version"]), _dpkg("uwsgi-plugin-python3")),
        "gunicorn": _run(["gunicorn", "--version"]),
        "nginx": _run(["nginx", "-v"]).replace("nginx version: ", ""),
        "apache": _run(["apache2", "-v"]).splitlines()[0].replace("Server version: ", "") if _run(["apache2", "-v"]) else "?",
        "mod_wsgi": _dpkg("libapache2-mod-wsgi-py3"),
        "python": _run(["/usr/bin/python3", "--version"]),
        "wrk": _dpkg("wrk"),
        "ab": _dpkg("apache2-utils"),
        "perf": _run(["perf", "--version"]),
        "strace": _run(["strace", "-V"]).splitlines()[0] if _run(["strace", "-V"]) else "?",
    }
