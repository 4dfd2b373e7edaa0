"""SIGHUP every second while wrk drives nginx -> drover over FastCGI, with and
without nginx's kept upstream connections: no request is refused or lost."""
import re
import signal
import subprocess

import pytest

from frontends import make_stack  # noqa: F401  (the fixture)


@pytest.mark.parametrize("name", ["nginx-fastcgi-tcp-keepconn", "nginx-fastcgi-tcp"])
def test_sighup_every_second_under_wrk_through_nginx_fastcgi(make_stack, name):  # noqa: F811
    stack = make_stack(name)
    wrk = subprocess.Popen(["wrk", "-t2", "-c32", "-d10s", stack.url("/app/pid")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    hups = 0
    try:
        while hups < 9:
            try:
                wrk.wait(1)  # paces the reloads: one a second while wrk runs
                break
            except subprocess.TimeoutExpired:
                stack.drover.signal(signal.SIGHUP)
                hups += 1
        out, _ = wrk.communicate(timeout=30)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    assert wrk.returncode == 0, out
    assert hups >= 5, out
    assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
    assert "Non-2xx or 3xx responses" not in out, out   # nginx answers 502 when drover fails it
    assert "Socket errors" not in out, out
    log = stack.drover.log()
    assert len(re.findall(r"reload: generation \d+ is ready; retiring generation \d+", log)) >= 3, log[-3000:]
    assert "reload failed" not in log
    assert "upstream prematurely closed" not in stack.server.log()
