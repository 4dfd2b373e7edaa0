#!/usr/bin/python3
"""Checks the deployable fleet files without running the drill (a unit test
of `make test`): promtool accepts etc/prometheus's rules and config,
HAProxy and nginx accept etc/haproxy/drover.cfg and
etc/nginx/drover-fastcgi-fleet.conf, and README.md's "Many hosts" section
shows each of them as it is, so the README cannot drift from the files the
drill runs. scripts/install-deps.sh installs the tools.

Usage: check_files.py SOURCE_ROOT
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FILES = {
    "etc/prometheus/prometheus.yml": "yaml",
    "etc/prometheus/drover-rules.yml": "yaml",
    "etc/haproxy/drover.cfg": "haproxy",
    "etc/nginx/drover-fastcgi-fleet.conf": "nginx",
}


def section(readme, title):
    out, inside = [], False
    for line in readme.splitlines(True):
        if line.startswith("## "):
            inside = line.strip() == "## " + title
        elif inside:
            out.append(line)
    return "".join(out)


def code_blocks(text):
    """(language, body) of every fenced block."""
    blocks, lang, body = [], None, []
    for line in text.splitlines(True):
        if line.startswith("```"):
            if lang is None:
                lang = line[3:].strip()
                body = []
            else:
                blocks.append((lang, "".join(body)))
                lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def run(cmd, what, failures):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        failures.append("%s: %s\n%s%s" % (what, " ".join(cmd), r.stdout, r.stderr))


def main(root):
    root = Path(root).resolve()
    failures = []
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    run([promtool, "check", "rules", str(root / "etc/prometheus/drover-rules.yml")], "promtool", failures)
    run([promtool, "check", "config", str(root / "etc/prometheus/prometheus.yml")], "promtool", failures)
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    run([haproxy, "-c", "-q", "-f", str(root / "etc/haproxy/drover.cfg")], "haproxy", failures)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as d:
        shutil.copy("/etc/nginx/fastcgi_params", Path(d) / "fastcgi_params")
        (Path(d) / "nginx.conf").write_text(
            "pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n    access_log off;\n    include %s;\n}\n"
            % (d, root / "etc/nginx/drover-fastcgi-fleet.conf"))
        run([nginx, "-t", "-q", "-p", d + "/", "-c", str(Path(d) / "nginx.conf")], "nginx", failures)

    readme = (root / "README.md").read_text()
    shown = [body for _, body in code_blocks(section(readme, "Many hosts"))]
    for path, lang in FILES.items():
        text = (root / path).read_text()
        if text not in shown:
            failures.append("README.md's \"Many hosts\" section does not show %s as it is (a ```%s block)"
                            % (path, lang))
    for f in failures:
        print("FAIL " + f)
    if not failures:
        print("ok: %d files checked by their tools and shown in README.md" % len(FILES))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
