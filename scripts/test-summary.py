#!/usr/bin/python3
"""Prints one closing line for `make test`: the individual test cases that
GoogleTest and pytest ran, summed over meson's suites, as
"tests: N passed, N failed, N skipped"."""
import json
import re
import sys
from pathlib import Path

log = Path(sys.argv[1] if len(sys.argv) > 1 else "build") / "meson-logs" / "testlog.json"
passed = failed = skipped = 0
for line in log.read_text().splitlines():
    entry = json.loads(line)
    out = entry.get("stdout", "") or ""
    gtest = re.findall(r"^\[  PASSED  \] (\d+) tests?", out, re.M)
    if gtest:
        passed += int(gtest[-1])
        failed += sum(int(n) for n in re.findall(r"^\[  FAILED  \] (\d+) tests?, listed below", out, re.M))
        skipped += sum(int(n) for n in re.findall(r"^\[  SKIPPED \] (\d+) tests?, listed below", out, re.M))
        continue
    tail = re.findall(r"^=*\s*(.*\b(?:passed|failed|error)\b.*) in [\d.]+s", out, re.M)
    if tail:
        for count, word in re.findall(r"(\d+) (passed|failed|skipped|xfailed|error|errors)", tail[-1]):
            if word == "passed":
                passed += int(count)
            elif word in ("failed", "error", "errors"):
                failed += int(count)
            else:
                skipped += int(count)
    elif entry.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP"):
        failed += 1  # a suite that died before it could count
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
