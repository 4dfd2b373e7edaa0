"""The servers under test and the frontends in front of them.

A `Setup` is one entry of one row started for one measurement: a backend
(drover, uWSGI, gunicorn, or mod_wsgi's daemon processes inside Apache) and
optionally a frontend (nginx or Apache), each on a free loopback port or a
unix socket in the run's own directory, from a config written there. It
knows which processes are the backend's master and workers (for CPU and
memory) and which are the frontend's. Everything is stopped by pid.
"""
import http.client
import os
import shlex
import shutil
import signal
from pathlib import Path

from .procs import Proc, connectable, descendants, cmdline, free_port, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"
UWSGI = shutil.which("uwsgi") or "/usr/bin/uwsgi"
GUNICORN = shutil.which("gunicorn") or "/usr/bin/gunicorn"
APACHE_MODULES = Path("/usr/lib/apache2/modules")

POST_SIZE = 64 * 1024
HELLO = b"Hello, world!"


class Context:
    """What every setup needs: paths and knobs."""

    def __init__(self, drover, apps, django_site, workers, django_db_dir=None):
        self.drover = str(Path(drover).resolve())
        self.apps = Path(apps)
        self.django_site = Path(django_site)
        self.workers = workers
        self.django_db_dir = django_db_dir

    def env(self, app):
        env = dict(os.environ)
        if app == "django":
            env["DJANGO_SETTINGS_MODULE"] = "dsite.settings"
            env["DROVER_TEST_DB_DIR"] = str(self.django_db_dir)
        return env

    def app_module(self, app):
        """(directory to put on sys.path, module:callable)"""
        if app == "django":
            return self.django_site, "dsite.wsgi:application"
        return self.apps, "%s:application" % app


# ---------------------------------------------------------------- backends

class Backend:
    """A WSGI server: start() returns the address it listens on."""
    name = "?"

    def __init__(self, ctx, protocol, transport, app, workdir, options=()):
        self.ctx, self.protocol, self.transport, self.app = ctx, protocol, transport, app
        self.dir = Path(workdir)
        self.options = set(options)
        self.proc = None
        if transport == "unix":
            self.address = self.dir / ("%s-%s.sock" % (self.name, protocol))
        else:
            self.address = ("127.0.0.1", free_port())

    def addr_text(self):
        if self.transport == "unix":
            return str(self.address)
        return "%s:%d" % self.address

    def start(self):
        self.proc = Proc(self.command(), self.dir / ("%s.log" % self.name), env=self.ctx.env(self.app),
                         cwd=str(self.dir), stop_signal=self.stop_signal)
        wait_until(lambda: connectable(self.address), 60, self.name, procs=[self.proc])
        return self.address

    def master_pid(self):
        return self.proc.pid

    def worker_pids(self):
        return descendants(self.proc.pid)

    def stop(self):
        return self.proc.stop() if self.proc else None


class Drover(Backend):
    name = "drover"
    stop_signal = signal.SIGTERM

    def command(self):
        path, module = self.ctx.app_module(self.app)
        scheme = "http" if self.protocol == "http" else self.protocol
        where = "unix:%s" % self.address if self.transport == "unix" else self.addr_text()
        args = [self.ctx.drover, "-w", str(self.ctx.workers), "--metrics", "", "--pythonpath", str(path),
                "-b", "%s://%s" % (scheme, where)]
        if "preload" in self.options:
            args.append("--preload")
        return args + [module]


class Uwsgi(Backend):
    name = "uwsgi"
    stop_signal = signal.SIGINT
    SOCKET_FLAG = {"http": "--http-socket", "http11": "--http11-socket", "fastcgi": "--fastcgi-socket",
                   "scgi": "--scgi-socket", "uwsgi": "--uwsgi-socket"}

    def command(self):
        path, module = self.ctx.app_module(self.app)
        args = [UWSGI, "--plugin", "python3", "--master", "--processes", str(self.ctx.workers),
                "--disable-logging", "--die-on-term", "--need-app", "--chdir", str(path), "--module", module,
                self.SOCKET_FLAG[self.protocol], self.addr_text()]
        if "lazy-apps" in self.options:
            args.append("--lazy-apps")
        return args


class Gunicorn(Backend):
    name = "gunicorn"
    stop_signal = signal.SIGINT

    def command(self):
        assert self.protocol == "http"
        path, module = self.ctx.app_module(self.app)
        bind = "unix:%s" % self.address if self.transport == "unix" else self.addr_text()
        args = [GUNICORN, "-w", str(self.ctx.workers), "-b", bind, "--chdir", str(path)]
        if "preload" in self.options:
            args.append("--preload")
        return args + [module]


BACKENDS = {"drover": Drover, "uwsgi": Uwsgi, "gunicorn": Gunicorn}


# ---------------------------------------------------------------- frontends

NGINX_PASS = {
    "http": "proxy_pass http://backend;",
    "http11": "proxy_pass http://backend;",
    "fastcgi": "include /etc/nginx/fastcgi_params;\n            fastcgi_pass backend;",
    "scgi": "include /etc/nginx/scgi_params;\n            scgi_pass backend;",
    "uwsgi": "include /etc/nginx/uwsgi_params;\n            uwsgi_pass backend;",
}
NGINX_KEEP = {
    "http": "proxy_http_version 1.1;\n            proxy_set_header Connection \"\";",
    "http11": "proxy_http_version 1.1;\n            proxy_set_header Connection \"\";",
    "fastcgi": "fastcgi_keep_conn on;",
}
# The upstream pool of a kept row holds as many idle connections as the
# load has concurrent requests (wrk -c32), so no connection is closed for
# lack of room in the pool.
NGINX_KEEPALIVE = 32


def nginx_config(d, port, backend=None, protocol=None, kept=False):
    user = "user root root;\n" if os.geteuid() == 0 else ""
    upstream = location = ""
    if backend is not None:
        server = "unix:%s" % backend if not isinstance(backend, tuple) else "%s:%d" % backend
        upstream = "    upstream backend {\n        server %s;\n%s    }\n" % (
            server, "        keepalive %d;\n" % NGINX_KEEPALIVE if kept else "")
        location = "        location / {\n            %s\n%s        }\n" % (
            NGINX_PASS[protocol], "            %s\n" % NGINX_KEEP[protocol] if kept else "")
    return (
        "%(user)sworker_processes 1;\n"
        "pid %(d)s/nginx.pid;\n"
        "error_log %(d)s/nginx-error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "    access_log off;\n"
        "    default_type text/plain;\n"
        "    client_body_temp_path %(d)s/tmp/client_body;\n"
        "    proxy_temp_path %(d)s/tmp/proxy;\n"
        "    fastcgi_temp_path %(d)s/tmp/fastcgi;\n"
        "    scgi_temp_path %(d)s/tmp/scgi;\n"
        "    uwsgi_temp_path %(d)s/tmp/uwsgi;\n"
        # a 64 KiB body and its echo stay in memory, as they would with a
        # tuned frontend: no temp file on either side
        "    client_max_body_size 1m; client_body_buffer_size 128k;\n"
        "    proxy_buffer_size 16k; proxy_buffers 8 16k;\n"
        "    fastcgi_buffer_size 16k; fastcgi_buffers 8 16k;\n"
        "    scgi_buffer_size 16k; scgi_buffers 8 16k;\n"
        "    uwsgi_buffer_size 16k; uwsgi_buffers 8 16k;\n"
        "%(upstream)s"
        "    server {\n"
        "        listen 127.0.0.1:%(port)d;\n"
        "        location = /static { return 200 \"Hello, world!\"; }\n"
        "%(location)s"
        "    }\n"
        "}\n" % {"user": user, "d": d, "port": port, "upstream": upstream, "location": location})


class Nginx:
    name = "nginx"

    def __init__(self, workdir, backend=None, protocol=None, kept=False):
        self.dir = Path(workdir) / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "scgi", "uwsgi"):
            (self.dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(nginx_config(self.dir, self.port, backend, protocol, kept))
        self.proc = None

    def start(self):
        self.proc = Proc([NGINX, "-p", str(self.dir) + "/", "-e", str(self.dir / "nginx-error.log"),
                          "-c", str(self.conf), "-g", "daemon off;"], self.dir / "nginx.out",
                         stop_signal=signal.SIGTERM)
        wait_until(lambda: connectable(("127.0.0.1", self.port)), 30, "nginx", procs=[self.proc])

    def pids(self):
        return [self.proc.pid] + descendants(self.proc.pid)

    def stop(self):
        return self.proc.stop() if self.proc else None


APACHE_PROXY = {"fastcgi": "fcgi", "scgi": "scgi", "http": "http"}
WSGI_DISPLAY_NAME = "drover-bench-wsgi"


class Apache:
    """One apache2 parent (event MPM, one child of 64 threads: one
    mod_proxy connection pool) in the foreground, with a self-contained
    config: mod_proxy_* to a backend, mod_wsgi daemon mode, or only its
    static file."""
    name = "apache"

    def __init__(self, ctx, workdir, backend=None, protocol=None, wsgi_app=None):
        self.dir = Path(workdir) / "apache"
        d = self.dir
        (d / "run").mkdir(parents=True, exist_ok=True)
        (d / "public").mkdir(parents=True, exist_ok=True)
        (d / "public" / "static").write_bytes(HELLO)
        self.port = free_port()
        mods = [("mpm_event_module", "mod_mpm_event.so"), ("authz_core_module", "mod_authz_core.so"),
                ("proxy_module", "mod_proxy.so")]
        site = ""
        if backend is not None:
            mods.append(("proxy_%s_module" % APACHE_PROXY[protocol], "mod_proxy_%s.so" % APACHE_PROXY[protocol]))
            scheme = APACHE_PROXY[protocol]
            if isinstance(backend, tuple):
                target = "%s://%s:%d/" % (scheme, backend[0], backend[1])
            else:
                target = "unix:%s|%s://localhost/" % (backend, scheme)
            site = ("ProxyPass \"/static\" \"!\"\n"
                    + ("ProxyFCGIBackendType GENERIC\n" if protocol == "fastcgi" else "")
                    + "ProxyPass \"/\" \"%s\"\n" % target)
        elif wsgi_app is not None:
            mods.append(("wsgi_module", "mod_wsgi.so"))
            # The daemon processes run as nobody: the app and the sockets
            # live under directories they can traverse.
            app_dir = d / "app"
            app_dir.mkdir(exist_ok=True)
            path, module = ctx.app_module(wsgi_app)
            mod_name = module.split(":")[0]
            shutil.copy(path / (mod_name + ".py"), app_dir / "app.wsgi")
            site = ("WSGIRestrictEmbedded On\n"
                    "WSGISocketPrefix %(d)s/run/wsgi\n"
                    "WSGIDaemonProcess bench processes=%(w)d threads=1 display-name=%(name)s\n"
                    "WSGIProcessGroup bench\n"
                    "WSGIApplicationGroup %%{GLOBAL}\n"
                    "WSGIScriptAlias / %(app)s/app.wsgi\n"
                    "<Directory %(app)s>\n    Require all granted\n</Directory>\n"
                    % {"d": d, "w": ctx.workers, "name": WSGI_DISPLAY_NAME, "app": app_dir})
        for p in [Path(workdir), d] + [q for q in d.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        loads = "".join("LoadModule %s %s\n" % (m, APACHE_MODULES / f) for m, f in mods)
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        (d / "apache2.conf").write_text(
            "ServerRoot %(d)s\n"
            "ServerName 127.0.0.1\n"
            "Listen 127.0.0.1:%(port)d\n"
            "PidFile %(d)s/run/apache2.pid\n"
            "DefaultRuntimeDir %(d)s/run\n"
            "Mutex file:%(d)s/run default\n"
            "ErrorLog %(d)s/error.log\n"
            "LogLevel warn\n"
            "%(loads)s%(user)s"
            "StartServers 1\nServerLimit 1\nThreadLimit 64\nThreadsPerChild 64\n"
            "MaxRequestWorkers 64\nMinSpareThreads 1\nMaxSpareThreads 64\n"
            "MaxConnectionsPerChild 0\nKeepAlive On\nMaxKeepAliveRequests 0\n"
            "DocumentRoot %(d)s/public\n"
            "%(site)s" % {"d": d, "port": self.port, "loads": loads, "user": user, "site": site})
        self.wsgi = wsgi_app is not None
        self.proc = None

    def start(self):
        self.proc = Proc([APACHE, "-f", str(self.dir / "apache2.conf"), "-DFOREGROUND"],
                         self.dir / "apache2.out", cwd=str(self.dir), stop_signal=signal.SIGTERM)
        wait_until(lambda: connectable(("127.0.0.1", self.port)), 30, "apache2", procs=[self.proc])
        if self.wsgi:
            wait_until(lambda: len(self.wsgi_pids()) >= 1, 30, "mod_wsgi daemons", procs=[self.proc])

    def wsgi_pids(self):
        return [p for p in descendants(self.proc.pid) if WSGI_DISPLAY_NAME in cmdline(p)]

    def pids(self):
        daemons = set(self.wsgi_pids())
        return [self.proc.pid] + [p for p in descendants(self.proc.pid) if p not in daemons]

    def stop(self):
        return self.proc.stop() if self.proc else None


# ---------------------------------------------------------------- setups

class Setup:
    """One entry of a row, started: `url` is what the load is sent to."""

    def __init__(self, ctx, entry, workdir):
        self.ctx, self.entry = ctx, entry
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.backend = self.frontend = None
        self.parts = []
        e = entry
        if e.server in BACKENDS:
            self.backend = BACKENDS[e.server](ctx, e.protocol, e.transport, e.app, self.dir, e.options)
        if e.frontend == "nginx":
            self.frontend = Nginx(self.dir, protocol=e.protocol, kept=e.kept,
                                  backend=self.backend.address if self.backend else None)
        elif e.frontend == "apache":
            if e.server == "mod_wsgi":
                self.frontend = Apache(ctx, self.dir, wsgi_app=e.app)
            else:
                self.frontend = Apache(ctx, self.dir, protocol=e.protocol,
                                       backend=self.backend.address if self.backend else None)
        port = self.frontend.port if self.frontend else self.backend.address[1]
        self.url = "http://127.0.0.1:%d%s" % (port, e.path)

    def start(self):
        try:
            if self.backend:
                self.backend.start()
                self.parts.append(self.backend)
            if self.frontend:
                self.frontend.start()
                self.parts.append(self.frontend)
            self.check()
        except BaseException:
            self.stop()
            raise

    def check(self, timeout=90):
        """Wait until the whole chain answers right (the app is imported
        lazily by some servers: the first answer may take a while)."""
        host, port = "127.0.0.1", int(self.url.split(":")[2].split("/")[0])
        path = self.entry.path
        body = os.urandom(POST_SIZE // 2).hex().encode() if self.entry.method == "POST" else None
        last = ["no answer"]

        def good():
            try:
                c = http.client.HTTPConnection(host, port, timeout=10)
                c.request(self.entry.method, path, body=body, headers={"Host": "127.0.0.1"})
                r = c.getresponse()
                data = r.read()
                c.close()
            except (OSError, http.client.HTTPException) as e:
                last[0] = repr(e)
                return False
            last[0] = "%d %r" % (r.status, data[:200])
            if r.status != 200:
                return False
            if body is not None:
                return data == body
            return data == HELLO if self.entry.app == "hello" else bool(data)
        try:
            wait_until(good, timeout, self.entry.key,
                       procs=[p.proc for p in self.parts if p.proc is not None])
        except RuntimeError as e:
            raise RuntimeError("%s (last answer: %s)" % (e, last[0]))

    def master_pid(self):
        """The backend's master (None for mod_wsgi: Apache's parent is the frontend's)."""
        return self.backend.master_pid() if self.backend else None

    def worker_pids(self):
        if self.backend:
            return self.backend.worker_pids()
        if self.entry.server == "mod_wsgi":
            return self.frontend.wsgi_pids()
        return []

    def backend_pids(self):
        m = self.master_pid()
        return ([m] if m else []) + self.worker_pids()

    def frontend_pids(self):
        return self.frontend.pids() if self.frontend else []

    def commands(self):
        """The command lines and configs, for the report."""
        out = []
        if self.backend:
            out.append(shlex.join(self.backend.command()))
        if self.frontend:
            conf = self.frontend.dir / ("nginx.conf" if self.frontend.name == "nginx" else "apache2.conf")
            out.append("%s config:\n%s" % (self.frontend.name, conf.read_text()))
        return out

    def stop(self):
        statuses = {}
        for p in reversed(self.parts):
            statuses[p.name] = p.stop()
        self.parts = []
        return statuses

