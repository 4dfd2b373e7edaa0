"""The drill's parts: three drover "hosts" on 127.0.1.1-3, HAProxy and nginx
in front of them, Prometheus scraping them, and a bounded client load.

Every process is started here in its own session, remembered by pid and
stopped by pid (a frozen one is continued first). HAProxy, nginx and
Prometheus run from the deployable files in etc/ with only addresses, ports,
paths and intervals substituted; a substitution that no longer matches its
file fails loudly instead of silently testing something else.
"""
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
from nginx_conf import write_nginx_conf  # noqa: E402
from processes import stop_process, wait_until  # noqa: E402,F401  (the drill imports them from here)
ETC = ROOT / "etc"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

ADDRESSES = ("127.0.1.1", "127.0.1.2", "127.0.1.3")
WORKERS = 4
BACKLOG = 32
HEALTHZ_MAX_QUEUE = 4
# The drill's Prometheus: scrape and evaluate every second, and every rule's
# `for:` held this long instead of minutes, so an alert fires within seconds.
PROMETHEUS_INTERVAL = "1s"
DRILL_FOR = "2s"


def drover_binary():
    path = os.path.abspath(os.environ.get("DROVER_BIN") or str(ROOT / "build" / "supervisor" / "drover"))
    if not os.access(path, os.X_OK):
        raise RuntimeError("drover binary not found at %s: build first (make build)" % path)
    return path


def port_free_on(addresses, tries=200):
    """A TCP port that can be bound on every one of addresses now."""
    rng = random.Random()
    for _ in range(tries):
        port = rng.randrange(20000, 32000)  # below the ephemeral range other tests draw from
        socks = []
        try:
            for a in addresses:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((a, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no port free on %s" % (addresses,))


def replace(text, old, new, what):
    if old not in text:
        raise AssertionError("%s: the file no longer contains %r" % (what, old))
    return text.replace(old, new)


def tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


def children(pid):
    try:
        return [int(c) for c in Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        return []


# Straight to the address: never through a proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=3, method="GET"):
    """(status, body text); (0, error text) when nothing answered."""
    req = urllib.request.Request(url, method=method)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)


# ---------------------------------------------------------------- drover hosts

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", re.M)


class Host:
    """One drover "host": its own address, config, runtime dir and logs."""

    def __init__(self, name, address, ports, workdir):
        self.name = name
        self.address = address
        self.http_port, self.fastcgi_port, self.metrics_port = ports
        self.dir = Path(workdir) / name
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "drover.toml"
        self.proc = None
        self.starts = 0
        self.write_config()

    @property
    def metrics_address(self):
        return "%s:%d" % (self.address, self.metrics_port)

    def write_config(self, app="fleet_app:application"):
        self.config.write_text(
            'app = "%(app)s"\n'
            'pythonpath = ["%(here)s"]\n'
            "workers = %(workers)d\n"
            "backlog = %(backlog)d\n"
            "graceful_timeout = 15\n"
            'pidfile = "%(dir)s/run/drover.pid"\n'
            'bind = ["http://%(a)s:%(hp)d", "fastcgi://%(a)s:%(fp)d"]\n'
            "\n[log]\n"
            'error = "%(dir)s/error.log"\n'
            "\n[metrics]\n"
            'address = "%(a)s:%(mp)d"\n'
            "healthz_max_queue = %(maxq)d\n"
            % {"app": app, "here": HERE, "workers": WORKERS, "backlog": BACKLOG, "dir": self.dir,
               "a": self.address, "hp": self.http_port, "fp": self.fastcgi_port, "mp": self.metrics_port,
               "maxq": HEALTHZ_MAX_QUEUE})

    def start(self, wait=True):
        assert not self.running(), "%s is running already" % self.name
        self.starts += 1
        out = open(self.dir / ("stderr-%d.log" % self.starts), "wb")
        env = dict(os.environ, FLEET_HOST=self.name)
        self.proc = subprocess.Popen([drover_binary(), "-c", str(self.config)], stdout=out, stderr=out,
                                     cwd=str(self.dir), env=env, start_new_session=True)
        out.close()
        if wait:
            self.wait_healthy()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_healthy(self, timeout=30):
        def healthy():
            if not self.running():
                raise AssertionError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log()))
            return self.healthz()[0] == 200
        wait_until(healthy, timeout, interval=0.1, what="%s /healthz 200" % self.name)

    def log(self):
        return tail(self.dir / "error.log") + tail(self.dir / ("stderr-%d.log" % self.starts), 1000)

    def pids(self):
        """The master and every process under it (workers, a zygote)."""
        if not self.running():
            return []
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children(pid))
        return out

    def url(self, path):
        return "http://%s%s" % (self.metrics_address, path)

    def healthz(self):
        return http_get(self.url("/healthz"), timeout=1)

    def status(self):
        code, body = http_get(self.url("/status"))
        assert code == 200, (code, body)
        return json.loads(body)

    def metrics(self):
        """{(name, labels text): value} of one scrape."""
        code, body = http_get(self.url("/metrics"))
        assert code == 200, (code, body)
        return {(m.group(1), m.group(2) or ""): float(m.group(3)) for m in METRIC_LINE.finditer(body)}

    def metric(self, name, labels=""):
        return self.metrics().get((name, labels))

    def drain(self, on=True):
        code, body = http_get(self.url("/drain"), method="POST" if on else "DELETE")
        assert code == 200, (code, body)
        return body

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def signal_all(self, sig):
        """sig to the master and every process under it, read at once."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    @staticmethod
    def wait_dead(pids, timeout=10):
        """Until every one of pids is gone or a zombie: a SIGKILL is sent at
        once but takes effect when the process next runs."""
        def dead(pid):
            try:
                stat = Path("/proc/%d/stat" % pid).read_text()
            except OSError:
                return True
            return stat[stat.rindex(")") + 2] in "ZX"
        wait_until(lambda: all(dead(p) for p in pids), timeout, interval=0.001, what="%s to die" % (pids,))

    def reload(self, app=None, timeout=30):
        """Rewrites the config (when app is given), sends SIGHUP and waits
        for the new generation to take over."""
        before = self.metric("drover_reloads_total", '{result="success"}')
        if app:
            self.write_config(app)
        self.signal(signal.SIGHUP)
        wait_until(lambda: self.metric("drover_reloads_total", '{result="success"}') > before, timeout,
                   interval=0.1, what="%s to finish its reload" % self.name)

    def terminate(self, timeout=30):
        """SIGTERM, and the wait for its exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s did not stop within %s s:\n%s" % (self.name, timeout, self.log()))

    def stop(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        stop_process(self.proc)


# ---------------------------------------------------------------- HAProxy

class HAProxy:
    """etc/haproxy/drover.cfg in the foreground, its stats socket in workdir."""

    def __init__(self, workdir, port, hosts):
        self.dir = Path(workdir) / "haproxy"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.socket = self.dir / "admin.sock"
        self.config = self.dir / "haproxy.cfg"
        self.config.write_text(self.render(hosts))
        self.log = self.dir / "haproxy.log"
        self.proc = None

    def render(self, hosts):
        what = "etc/haproxy/drover.cfg"
        text = (ETC / "haproxy" / "drover.cfg").read_text()
        # No syslog here: the request log goes to stderr, into a file.
        text = replace(text, "log /dev/log local0", "log stderr format raw local0 info", what)
        text = replace(text, "stats socket /run/haproxy/admin.sock", "stats socket %s" % self.socket, what)
        text = replace(text, "bind :80", "bind 127.0.0.1:%d" % self.port, what)
        text = replace(text, "port 9191", "port %d" % hosts[0].metrics_port, what)
        for i, h in enumerate(hosts, 1):
            text = replace(text, "server app%d 10.0.0.%d:8000" % (i, i),
                           "server %s %s:%d" % (h.name, h.address, h.http_port), what)
        return text

    def start(self):
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(self.config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        out = open(self.log, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)], stdout=out, stderr=out,
                                     start_new_session=True)
        out.close()
        wait_until(lambda: self._alive() and self.socket.exists(), 15, what="haproxy's stats socket")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited with %s:\n%s" % (self.proc.returncode, tail(self.log)))
        return True

    def command(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def servers(self):
        """{server name: its `show stat` row as a dict} for backend drover."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "drover" and row.get("svname") not in ("BACKEND", "FRONTEND"):
                out[row["svname"]] = row
        return out

    def state(self, name):
        """"UP", "DOWN", "UP 1/2", "DOWN 1/2", ... as HAProxy says."""
        return self.servers()[name]["status"]

    def sessions(self, name):
        return int(self.servers()[name]["scur"] or 0)

    def wait_state(self, name, want, timeout, interval=0.05):
        """Seconds until `name` is `want` ("UP" or "DOWN", exactly)."""
        t0 = time.monotonic()
        wait_until(lambda: self.state(name) == want, timeout, interval=interval,
                   what="haproxy to mark %s %s (now %s)" % (name, want, self.state(name)))
        return time.monotonic() - t0

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        stop_process(self.proc, signal.SIGUSR1)  # HAProxy's soft stop


# ---------------------------------------------------------------- nginx

class Nginx:
    """etc/nginx/drover-fastcgi-fleet.conf in the foreground, in workdir."""

    def __init__(self, workdir, port, hosts):
        self.dir = Path(workdir) / "nginx"
        self.port = port
        self.hosts = hosts
        self.down = set()
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy("/etc/nginx/fastcgi_params", d / "fastcgi_params")
        (d / "public").mkdir(exist_ok=True)
        self.error_log = d / "error.log"
        self.write_site()
        write_nginx_conf(d, log_level="notice", worker_connections=1024)
        self.proc = None

    def write_site(self):
        what = "etc/nginx/drover-fastcgi-fleet.conf"
        text = (ETC / "nginx" / "drover-fastcgi-fleet.conf").read_text()
        text = replace(text, "listen 80;", "listen 127.0.0.1:%d;" % self.port, what)
        text = replace(text, "root /srv/app/public;", "root %s;" % (self.dir / "public"), what)
        for i, h in enumerate(self.hosts, 1):
            # The drain procedure: a host being taken out is `down`.
            down = " down" if h.name in self.down else ""
            text = replace(text, "server 10.0.0.%d:9000 " % i, "server %s:%d%s " % (h.address, h.fastcgi_port, down),
                           what)
        (self.dir / "site.conf").write_text(text)

    def start(self):
        cmd = [NGINX, "-p", str(self.dir) + "/", "-e", str(self.error_log), "-c", str(self.dir / "nginx.conf")]
        check = subprocess.run(cmd + ["-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        out = open(self.dir / "nginx.out", "wb")
        self.proc = subprocess.Popen(cmd + ["-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

        def answering():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited:\n%s" % tail(self.error_log))
            return http_get(self.url("/"), timeout=2)[0] == 200
        wait_until(answering, 20, interval=0.1, what="nginx to answer")
        return self

    def set_down(self, name, down):
        """Marks a host down (or not) in the upstream and reloads nginx; returns
        once the old worker, with its connections to the host, has exited."""
        (self.down.add if down else self.down.discard)(name)
        self.write_site()
        old = set(children(self.proc.pid))
        os.kill(self.proc.pid, signal.SIGHUP)
        wait_until(lambda: not old & set(children(self.proc.pid)) and children(self.proc.pid), 30, interval=0.05,
                   what="nginx's old worker to exit after the reload")

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        stop_process(self.proc, signal.SIGQUIT)  # nginx's graceful stop


# ---------------------------------------------------------------- Prometheus

class Prometheus:
    """etc/prometheus/prometheus.yml and drover-rules.yml, with the drill's
    targets, 1 s intervals and every `for:` shortened to DRILL_FOR."""

    def __init__(self, workdir, port, hosts):
        self.dir = Path(workdir) / "prometheus"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.config = self.dir / "prometheus.yml"
        self.rules = self.dir / "drover-rules.yml"
        what = "etc/prometheus/prometheus.yml"
        text = (ETC / "prometheus" / "prometheus.yml").read_text()
        text = replace(text, "scrape_interval: 15s", "scrape_interval: %s" % PROMETHEUS_INTERVAL, what)
        text = replace(text, "evaluation_interval: 15s", "evaluation_interval: %s" % PROMETHEUS_INTERVAL, what)
        text = replace(text, '["10.0.0.1:9191", "10.0.0.2:9191", "10.0.0.3:9191"]',
                       "[%s]" % ", ".join('"%s"' % h.metrics_address for h in hosts), what)
        self.config.write_text(text)
        rules = (ETC / "prometheus" / "drover-rules.yml").read_text()
        shortened, n = re.subn(r"(\n\s+for: )\S+", r"\g<1>" + DRILL_FOR, rules)
        assert n >= 1, "etc/prometheus/drover-rules.yml: no `for:` to shorten"
        self.rules.write_text(shortened)
        self.log = self.dir / "prometheus.log"
        self.proc = None

    def check(self):
        """promtool on the files the drill runs."""
        for args in (["check", "rules", str(self.rules)], ["check", "config", str(self.config)]):
            r = subprocess.run([PROMTOOL] + args, capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr

    def start(self):
        self.check()
        out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=%s" % self.config, "--storage.tsdb.path=%s" % (self.dir / "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=out, stderr=out, cwd=str(self.dir), start_new_session=True)
        out.close()

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("prometheus exited:\n%s" % tail(self.log))
            return http_get("http://127.0.0.1:%d/-/ready" % self.port, timeout=2)[0] == 200
        wait_until(ready, 60, interval=0.2, what="prometheus to be ready")
        return self

    def api(self, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        code, body = http_get(url, timeout=5)
        if code != 200:
            return None
        doc = json.loads(body)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr):
        """{instance: value} of an instant query."""
        data = self.api("query", query=expr)
        if data is None:
            return {}
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in data["result"]}

    def alerts(self, name):
        """{instance: state} of the alert `name` ("pending", "firing")."""
        data = self.api("alerts") or {"alerts": []}
        return {a["labels"].get("instance", ""): a["state"] for a in data["alerts"]
                if a["labels"].get("alertname") == name}

    def stop(self):
        stop_process(self.proc)
