#!/usr/bin/python3
"""Holds the modules to the layering in ARCHITECTURE.md: reads every
#include of the sources and fails on an arrow that is not allowed.

    base/        includes nothing of the others
    ipc/         base/
    metrics/     base/, ipc/           (never Python)
    worker/      base/, ipc/           (never supervisor/ or metrics/)
    supervisor/  base/, ipc/, metrics/, and of worker/ only its entry
                 points (worker_spec.hpp, zygote.hpp); never Python: the
                 master does not embed the interpreter

Usage: check_layers.py SOURCE_ROOT | --self-test
"""
import re
import sys
from pathlib import Path

MODULES = ("base", "ipc", "metrics", "worker", "supervisor")
ALLOWED = {
    "base": {"base"},
    "ipc": {"base", "ipc"},
    "metrics": {"base", "ipc", "metrics"},
    "worker": {"base", "ipc", "worker"},
    "supervisor": {"base", "ipc", "metrics", "supervisor", "worker"},
}
# Of worker/, the master sees only what it hands a forked child.
SUPERVISOR_WORKER_HEADERS = {"worker/worker_spec.hpp", "worker/zygote.hpp"}
PYTHON_HEADERS = {"Python.h", "patchlevel.h", "pyconfig.h", "structmember.h", "frameobject.h"}
NO_PYTHON = {"base", "ipc", "metrics", "supervisor"}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def violations(root):
    found = []
    for module in MODULES:
        for path in sorted((root / module).rglob("*")):
            if path.suffix not in (".cpp", ".hpp", ".h", ".cc"):
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                header = m.group(2)
                where = "%s:%d" % (path.relative_to(root), number)
                if header in PYTHON_HEADERS or header.startswith("python3"):
                    if module in NO_PYTHON:
                        found.append("%s: %s/ must not include Python (%s)" % (where, module, header))
                    continue
                target = header.split("/", 1)[0]
                if m.group(1) != '"' or target not in MODULES:
                    continue
                if target not in ALLOWED[module]:
                    found.append("%s: %s/ may not include %s" % (where, module, header))
                elif module == "supervisor" and target == "worker" and header not in SUPERVISOR_WORKER_HEADERS:
                    found.append("%s: supervisor/ may use worker/ only through %s, not %s"
                                 % (where, " and ".join(sorted(SUPERVISOR_WORKER_HEADERS)), header))
    return found


def self_test():
    """The checker itself must catch each kind of arrow it forbids."""
    import tempfile
    cases = {
        "base/a.hpp": ('#include "ipc/slot.hpp"', True),
        "ipc/a.hpp": ('#include "metrics/x.hpp"', True),
        "metrics/a.cpp": ("#include <Python.h>", True),
        "worker/a.cpp": ('#include "supervisor/master.hpp"', True),
        "supervisor/a.cpp": ('#include "worker/connection.hpp"', True),
        "supervisor/b.cpp": ("#include <patchlevel.h>", True),
        "supervisor/c.cpp": ('#include "worker/worker_spec.hpp"', False),
        "worker/b.cpp": ("#include <Python.h>", False),
        "metrics/b.cpp": ('#include "ipc/scoreboard.hpp"', False),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, (line, _) in cases.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(line + "\n")
        found = violations(root)
    for name, (line, bad) in cases.items():
        caught = any(v.startswith(name + ":") for v in found)
        if caught != bad:
            print("self-test: %s with %r: %s" % (name, line, "missed" if bad else "wrongly flagged"))
            return 1
    print("self-test: %d cases as expected" % len(cases))
    return 0


def main():
    if sys.argv[1:2] == ["--self-test"]:
        return self_test()
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    found = violations(root)
    for v in found:
        print(v)
    checked = sum(1 for m in MODULES for p in (root / m).rglob("*") if p.suffix in (".cpp", ".hpp"))
    print("%d files checked, %d layering violations" % (checked, len(found)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
