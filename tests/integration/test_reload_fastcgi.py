"""SIGHUP every second while wrk drives nginx -> drover over FastCGI, with and
without nginx's kept upstream connections: no request is refused or lost."""
import re
import signal

import pytest

from conftest import hup_every_second_under_wrk
from frontends import make_stack  # noqa: F401  (the fixture)


@pytest.mark.parametrize("name", ["nginx-fastcgi-tcp-keepconn", "nginx-fastcgi-tcp"])
def test_sighup_every_second_under_wrk_through_nginx_fastcgi(make_stack, name):  # noqa: F811
    stack = make_stack(name)
    out, hups = hup_every_second_under_wrk(stack.url("/app/pid"), lambda: stack.drover.signal(signal.SIGHUP))
    assert hups >= 5, out
    assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
    assert "Non-2xx or 3xx responses" not in out, out   # nginx answers 502 when drover fails it
    assert "Socket errors" not in out, out
    log = stack.drover.log()
    assert len(re.findall(r"reload: generation \d+ is ready; retiring generation \d+", log)) >= 3, log[-3000:]
    assert "reload failed" not in log
    assert "upstream prematurely closed" not in stack.server.log()
