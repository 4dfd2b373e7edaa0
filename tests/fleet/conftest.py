"""The fleet the drill's scenarios share (started once, stopped by pid at the
end) and the table of figures it prints."""
import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import ADDRESSES, HAProxy, Host, Nginx, Prometheus, port_free_on  # noqa: E402

# One row per scenario and balancer, in the order they ran.
ROWS = []
NOTES = []


class Fleet:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        ports = tuple(port_free_on(ADDRESSES) for _ in range(3))
        self.hosts = [Host("h%d" % i, a, ports, self.workdir) for i, a in enumerate(ADDRESSES, 1)]
        self.haproxy = HAProxy(self.workdir, port_free_on(["127.0.0.1"]), self.hosts)
        self.nginx = Nginx(self.workdir, port_free_on(["127.0.0.1"]), self.hosts)
        self.prometheus = Prometheus(self.workdir, port_free_on(["127.0.0.1"]), self.hosts)

    def start(self):
        for h in self.hosts:
            h.start(wait=False)
        for h in self.hosts:
            h.wait_healthy()
        self.haproxy.start()
        self.nginx.start()
        self.prometheus.start()
        self.wait_all_up()

    def wait_all_up(self, timeout=30):
        for h in self.hosts:
            self.haproxy.wait_state(h.name, "UP", timeout)

    def restore(self):
        """Back to three healthy hosts running the fast app, none drained,
        all UP in HAProxy and in nginx's upstream: after a scenario that
        failed half-way, the next one still starts from the same fleet."""
        for h in self.hosts:
            if h.running():
                h.signal_all(signal.SIGCONT)
        for h in self.hosts:
            if not h.running():
                h.write_config()
                h.start()
            elif "slow_application" in h.config.read_text():
                h.reload(app="fleet_app:application")
            if h.status()["pool"]["draining"]:
                h.drain(False)
        for name in list(self.nginx.down):
            self.nginx.set_down(name, False)
        self.wait_all_up()

    def stop(self):
        # The balancers first, so that nothing is sent to a host that stops.
        for part in [self.haproxy, self.nginx, self.prometheus] + self.hosts:
            try:
                part.stop()
            except Exception as e:  # keep stopping the others
                print("stopping %s: %s" % (part, e), file=sys.stderr)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    f = Fleet(tmp_path_factory.mktemp("fleet"))
    try:
        f.start()
        yield f
    finally:
        f.stop()
        for h in f.hosts:
            assert not h.running()


def record(scenario, through, load, marked_down=None):
    s = load.summary()
    ROWS.append((scenario, through, s["requests"], s["failed"], s["max_latency"], marked_down))


def note(text):
    NOTES.append(text)


def fmt_seconds(v):
    return "—" if v is None else "%.2f s" % v


def table():
    lines = ["| scenario | through | requests | failed | max latency | marked down after |",
             "|---|---|---|---|---|---|"]
    for scenario, through, requests, failed, latency, down in ROWS:
        lines.append("| %s | %s | %d | %d | %s | %s |"
                     % (scenario, through, requests, failed, fmt_seconds(latency), fmt_seconds(down)))
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    text = table() + "".join("\n- " + n for n in NOTES) + ("\n" if NOTES else "")
    terminalreporter.write_sep("=", "fleet drill")
    terminalreporter.write(text)
    out = os.environ.get("FLEET_RESULTS")
    if out:
        Path(out).write_text(text)
        terminalreporter.write("(also written to %s)\n" % out)
