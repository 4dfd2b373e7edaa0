"""Real nginx and Apache in front of drover: FastCGI, SCGI, and HTTP (nginx
proxy_pass, Apache ProxyPass).

The web servers run in the foreground from configs written into a temporary
directory, on free loopback ports, with their pid file, logs and temp paths
inside that directory: the system's own nginx/apache2 instances (which the
packages may have started on port 80) are never used or touched. Each site
config is rendered from the deployable snippet in etc/nginx or etc/apache by
substituting addresses and paths, so the snippets the README shows are the
ones under test. A substitution that no longer matches its snippet fails
loudly instead of silently testing something else.

Processes are started in their own session and stopped by pid.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import APPS, ROOT, Drover, free_port, stop_process, wait_until
from nginx_conf import write_nginx_conf

ETC = ROOT / "etc"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODULES = Path("/usr/lib/apache2/modules")

# The addresses the snippets name as placeholders.
SNIPPET_ADDR = {"fastcgi": "127.0.0.1:9000", "scgi": "127.0.0.1:9001", "http": "127.0.0.1:8000"}


# ---------------------------------------------------------------- rendering

def _replace(text, old, new, what):
    if old not in text:
        raise AssertionError("%s: the snippet no longer contains %r" % (what, old))
    return text.replace(old, new)


def _drop_lines(text, needle, what):
    if needle not in text:
        raise AssertionError("%s: the snippet no longer contains %r" % (what, needle))
    return "".join(line for line in text.splitlines(True) if needle not in line)


def _location_block(text, what):
    m = re.search(r"^( *)location / \{\n.*?^\1\}\n", text, re.M | re.S)
    if not m:
        raise AssertionError("%s: no 'location / { ... }' block in the snippet" % what)
    return m.group(0)


def render_nginx_site(protocol, listen_port, upstream, docroot, keep_conn=True, https_location="/tls/"):
    """The etc/nginx/drover-<protocol>.conf snippet for a test.

    upstream: "127.0.0.1:PORT" or "unix:/path". keep_conn=False drops the
    upstream pool (keepalive, keepalive_timeout) and fastcgi_keep_conn. A copy
    of `location /` is added at https_location that says the scheme is https,
    as behind a TLS terminator: `<proto>_param HTTPS on` for FastCGI and SCGI,
    X-Forwarded-Proto https and X-Forwarded-Port 443 for HTTP (as the
    snippet's comment shows).
    """
    name = "drover-%s.conf" % protocol
    what = "etc/nginx/" + name
    text = (ETC / "nginx" / name).read_text()
    text = _replace(text, "server %s;" % SNIPPET_ADDR[protocol], "server %s;" % upstream, what)
    text = _replace(text, "listen 80;", "listen 127.0.0.1:%d;" % listen_port, what)
    if protocol != "http":  # a proxy has no document root
        text = _replace(text, "root /srv/app/public;", "root %s;" % docroot, what)
    if protocol in ("fastcgi", "http") and not keep_conn:
        text = _drop_lines(text, "keepalive 16;", what)
        text = _drop_lines(text, "keepalive_timeout 4s;", what)
        if protocol == "fastcgi":
            text = _drop_lines(text, "fastcgi_keep_conn on;", what)
    if https_location:
        block = _location_block(text, what)
        tls = _replace(block, "location / {", "location %s {" % https_location, what)
        if protocol == "http":
            tls = _replace(tls, "X-Forwarded-Proto $scheme;", "X-Forwarded-Proto https;", what)
            tls = _replace(tls, "X-Forwarded-Port $server_port;", "X-Forwarded-Port 443;", what)
        else:
            param = "fastcgi_param" if protocol == "fastcgi" else "scgi_param"
            include = "include %s_params;" % protocol
            tls = _replace(tls, include, "%s\n        %s HTTPS on;" % (include, param), what)
        text = text.replace(block, tls + "\n" + block)
    return text


def render_apache_site(protocol, listen_port, upstream, docroot, reuse=True, https_location="/tls/"):
    """The etc/apache/drover-<protocol>.conf snippet for a test.

    upstream: "127.0.0.1:PORT" or "unix:/path". reuse=False drops
    enablereuse=on and its ttl. A <Location> at https_location says the
    scheme is https: HTTPS=on for FastCGI and SCGI, X-Forwarded-Proto https
    for HTTP.
    """
    name = "drover-%s.conf" % protocol
    what = "etc/apache/" + name
    text = (ETC / "apache" / name).read_text()
    scheme = {"fastcgi": "fcgi", "scgi": "scgi", "http": "http"}[protocol]
    if upstream.startswith("unix:"):
        target = '"%s|%s://localhost/"' % (upstream, scheme)
    else:
        target = '"%s://%s/"' % (scheme, upstream)
    # (HTTP: ProxyPass and ProxyPassReverse both name it.)
    text = _replace(text, '"%s://%s/"' % (scheme, SNIPPET_ADDR[protocol]), target, what)
    text = _replace(text, "<VirtualHost *:80>", "<VirtualHost 127.0.0.1:%d>" % listen_port, what)
    if protocol != "http":
        text = _replace(text, "DocumentRoot /srv/app/public", "DocumentRoot %s" % docroot, what)
    if protocol == "fastcgi" and not reuse:
        text = _replace(text, " enablereuse=on ttl=4", "", what)
    if https_location:
        says_https = "RequestHeader set X-Forwarded-Proto https" if protocol == "http" else "SetEnv HTTPS on"
        text = _replace(text, "</VirtualHost>",
                        '    <Location "%s">\n        %s\n    </Location>\n</VirtualHost>'
                        % (https_location, says_https), what)
    return text


# ---------------------------------------------------------------- processes

def _wait_http(port, proc, log_path, what, timeout=20):
    def answering():
        if proc.poll() is not None:
            raise AssertionError("%s exited with %s before it answered:\n%s"
                                 % (what, proc.returncode, _tail(log_path)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    wait_until(answering, timeout, what="%s on port %d" % (what, port))


def _tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return "(no log)"


class _Frontend:
    """What the nginx and Apache wrappers share once started: port, proc,
    error_log and _out are set by the subclass."""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log(self):
        return _tail(self.error_log, 100000)

    def stop(self):
        stop_process(self.proc, signal.SIGTERM)
        self._out.close()


class Nginx(_Frontend):
    """One nginx master in the foreground, serving `site` (an http{} snippet)."""

    def __init__(self, workdir, port, site):
        self.dir = Path(workdir)
        self.port = port
        self.dir.mkdir(parents=True, exist_ok=True)
        # includes are relative to the main config's directory
        for params in ("fastcgi_params", "scgi_params"):
            shutil.copy("/etc/nginx/" + params, self.dir / params)
        (self.dir / "site.conf").write_text(site)
        d = self.dir
        self.error_log = d / "error.log"
        write_nginx_conf(d)
        self._out = open(d / "nginx.out", "wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(d) + "/", "-e", str(self.error_log), "-c", str(d / "nginx.conf"),
             "-g", "daemon off;"],
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        try:
            _wait_http(port, self.proc, self.error_log, "nginx")
        except BaseException:
            self.stop()
            raise



APACHE_MODULES_LOADED = [
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("env_module", "mod_env.so"),
    ("headers_module", "mod_headers.so"),
    ("proxy_module", "mod_proxy.so"),
    ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
    ("proxy_scgi_module", "mod_proxy_scgi.so"),
    ("proxy_http_module", "mod_proxy_http.so"),
]


class Apache(_Frontend):
    """One apache2 parent in the foreground with a self-contained config."""

    def __init__(self, workdir, port, site):
        self.dir = Path(workdir)
        self.port = port
        d = self.dir
        (d / "run").mkdir(parents=True, exist_ok=True)
        (d / "site.conf").write_text(site)
        self.error_log = d / "error.log"
        loads = "".join("LoadModule %s %s\n" % (m, APACHE_MODULES / f) for m, f in APACHE_MODULES_LOADED)
        # Apache will not run its children as root: as root they run as nobody.
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        # One child process: mod_proxy's connection pool is per child, so
        # with one child the reuse of backend connections is observable.
        (d / "apache2.conf").write_text(
            "ServerRoot %(d)s\n"
            "ServerName 127.0.0.1\n"
            "Listen 127.0.0.1:%(port)d\n"
            "PidFile %(d)s/apache2.pid\n"
            "DefaultRuntimeDir %(d)s/run\n"
            "ErrorLog %(d)s/error.log\n"
            "LogLevel info\n"
            "%(loads)s"
            "%(user)s"
            "StartServers 1\n"
            "ServerLimit 1\n"
            "ThreadLimit 16\n"
            "ThreadsPerChild 16\n"
            "MaxRequestWorkers 16\n"
            "MinSpareThreads 1\n"
            "MaxSpareThreads 16\n"
            "LogFormat \"%%h %%l %%u %%t \\\"%%r\\\" %%>s %%b\" common\n"
            "CustomLog %(d)s/access.log common\n"
            "Include %(d)s/site.conf\n" % {"d": d, "port": port, "loads": loads, "user": user})
        self._out = open(d / "apache2.out", "wb")
        self.proc = subprocess.Popen(
            [APACHE, "-f", str(d / "apache2.conf"), "-DFOREGROUND"],
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(d))
        self.pid = self.proc.pid
        try:
            _wait_http(port, self.proc, d / "apache2.out", "apache2")
        except BaseException:
            self.stop()
            raise



# ---------------------------------------------------------------- drover

def split_cgi_response(stdout):
    """(status code, headers dict with lower-case names, body) of a CGI response."""
    head, sep, body = stdout.partition(b"\r\n\r\n")
    assert sep, stdout[:200]
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.decode().strip().lower()] = value.decode().strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


def drover_config(path, bind, workers=2, script_name="/app", metrics_port=None, extra="", app="fe_app:application"):
    """Writes a drover.toml serving apps/fe_app.py (or app); bind is a TOML array body."""
    text = (
        'app = "%s"\n'
        'pythonpath = ["%s"]\n'
        "workers = %d\n"
        'script_name = "%s"\n'
        "bind = [%s]\n"
        "%s\n" % (app, APPS, workers, script_name, bind, extra))
    if metrics_port:
        text += '[metrics]\naddress = "127.0.0.1:%d"\n' % metrics_port
    Path(path).write_text(text)
    return path


def accepted_connections(metrics_port):
    """drover_accepted_connections_total: accept(2) calls that returned a connection."""
    text = requests.get("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10).text
    m = re.search(r"^drover_accepted_connections_total (\d+)", text, re.M)
    assert m, text
    return int(m.group(1))


class Stack:
    """drover behind one frontend, as the frontend tests use it."""

    def __init__(self, name, frontend, protocol, keep, drover, server, metrics_port, docroot, upstream):
        self.name = name
        self.upstream = upstream      # drover's listener: "127.0.0.1:PORT" or "unix:/path"
        self.frontend = frontend      # "nginx" or "apache"
        self.protocol = protocol      # "fastcgi", "scgi" or "http"
        self.keep = keep              # the frontend keeps backend connections
        self.drover = drover
        self.server = server
        self.metrics_port = metrics_port
        self.docroot = docroot

    def url(self, path):
        return self.server.url(path)

    def accepted(self):
        return accepted_connections(self.metrics_port)

    def stop(self):
        self.server.stop()
        self.drover.stop()


# name: (frontend, protocol, transport, keep)
STACKS = {
    "nginx-http-tcp-keepalive": ("nginx", "http", "tcp", True),
    "nginx-http-unix": ("nginx", "http", "unix", False),
    "apache-http-tcp": ("apache", "http", "tcp", True),
    "nginx-fastcgi-tcp-keepconn": ("nginx", "fastcgi", "tcp", True),
    "nginx-fastcgi-tcp": ("nginx", "fastcgi", "tcp", False),
    "nginx-fastcgi-unix-keepconn": ("nginx", "fastcgi", "unix", True),
    "nginx-fastcgi-unix": ("nginx", "fastcgi", "unix", False),
    "nginx-scgi-tcp": ("nginx", "scgi", "tcp", False),
    "apache-fastcgi-tcp-reuse": ("apache", "fastcgi", "tcp", True),
    "apache-fastcgi-tcp": ("apache", "fastcgi", "tcp", False),
    "apache-scgi-tcp": ("apache", "scgi", "tcp", False),
}


def start_stack(name, workdir, workers=2, app="fe_app:application", script_name="/app", extra="", env=None):
    """drover behind the frontend STACKS[name]; app, script_name and extra
    (TOML lines) go into drover.toml, env into drover's environment."""
    frontend, protocol, transport, keep = STACKS[name]
    workdir = Path(workdir)
    docroot = workdir / "public"
    docroot.mkdir(parents=True, exist_ok=True)
    metrics_port = free_port()
    if transport == "unix":
        sock = workdir / ("drover-%s.sock" % protocol)
        address = "%s://unix:%s" % (protocol, sock)
        bind = '"%s"' % address
        upstream = "unix:%s" % sock
    else:
        port = free_port()
        address = "%s://127.0.0.1:%d" % (protocol, port)
        bind = '{ address = "%s", allowed_clients = ["127.0.0.1"] }' % address
        upstream = "127.0.0.1:%d" % port
    conf = drover_config(workdir / "drover.toml", bind, workers=workers, metrics_port=metrics_port,
                         script_name=script_name, extra=extra, app=app)
    drover = Drover(["-c", str(conf)], workdir, env=env)
    try:
        drover.wait_ready(workers)
        web_port = free_port()
        if frontend == "nginx":
            site = render_nginx_site(protocol, web_port, upstream, docroot, keep_conn=keep)
            server = Nginx(workdir / "nginx", web_port, site)
        else:
            site = render_apache_site(protocol, web_port, upstream, docroot, reuse=keep)
            server = Apache(workdir / "apache", web_port, site)
    except BaseException:
        drover.stop()
        raise
    return Stack(name, frontend, protocol, keep, drover, server, metrics_port, docroot, upstream)


# The web server as a FastCGI or SCGI client (test_frontends.py); the HTTP
# stacks are test_forwarded.py's.
CGI_STACKS = sorted(name for name, (_, protocol, _, _) in STACKS.items() if protocol != "http")


@pytest.fixture(scope="module", params=CGI_STACKS)
def stack(request, tmp_path_factory):
    """drover (2 workers, fe_app mounted at /app) behind each FastCGI/SCGI frontend in turn."""
    s = start_stack(request.param, tmp_path_factory.mktemp(request.param))
    yield s
    s.stop()


@pytest.fixture
def make_stack(tmp_path):
    """make_stack(name, workers=2) -> Stack, stopped at teardown."""
    started = []

    def make(name, workers=2):
        s = start_stack(name, tmp_path / name, workers=workers)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
