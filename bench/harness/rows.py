"""The rows of the benchmark: what is compared with what.

A row is one way of serving the app (a frontend, a protocol, a transport,
an upstream mode, a load); its entries are the servers compared in that
row. Ratios are always drover's entries against the other entries of the
same row (and, for the kept rows, against uWSGI's best configuration).
"""
import fnmatch


class Entry:
    def __init__(self, server, protocol="http", transport="tcp", frontend=None, kept=False, app="hello",
                 method="GET", label=None, name=None, options=(), client_keepalive=False):
        self.server = server          # drover, uwsgi, gunicorn, mod_wsgi, nginx, apache
        self.protocol = protocol      # http, http11 (uWSGI), fastcgi, scgi, uwsgi
        self.transport = transport    # tcp, unix
        self.frontend = frontend      # None (direct), nginx, apache
        self.kept = kept              # the frontend keeps upstream connections
        self.app = app                # hello, echo, django
        self.method = method
        self.path = ("/static" if server in ("nginx", "apache")
                     else "/admin/login/" if app == "django" else "/")
        self.label = label or server
        self.name = name or server
        self.options = tuple(options)
        self.client_keepalive = client_keepalive
        self.row = None

    @property
    def key(self):
        return "%s/%s" % (self.row.id, self.name)

    @property
    def is_drover(self):
        return self.server == "drover"


class Row:
    def __init__(self, id, group, title, entries, kind="load", baseline=None):
        self.id, self.group, self.title, self.kind = id, group, title, kind
        self.entries = entries
        # the baseline entry whose `ab -c1` time is subtracted ("added ms")
        self.baseline = baseline
        for e in entries:
            e.row = self


GROUPS = {
    "per-request": "nginx, a new upstream connection per request",
    "kept": "nginx, kept upstream connections",
    "direct": "HTTP straight at the server, keep-alive clients",
    "apache": "Apache in front",
    "post": "64 KiB POST, echoed",
    "baseline": "the frontends answering by themselves",
    "memory": "memory",
}

UWSGI_SOCKET = {"http": "--http-socket", "http11": "--http11-socket", "fastcgi": "--fastcgi-socket",
                "scgi": "--scgi-socket", "uwsgi": "--uwsgi-socket"}
PROTO = {"http": "HTTP", "fastcgi": "FastCGI", "scgi": "SCGI", "uwsgi": "uwsgi", "http11": "HTTP/1.1"}


def all_rows():
    rows = []
    for proto in ("http", "fastcgi", "scgi"):
        for tr in ("tcp", "unix"):
            es = [Entry("drover", proto, tr, "nginx"),
                  Entry("uwsgi", proto, tr, "nginx", label="uWSGI %s" % UWSGI_SOCKET[proto])]
            if proto == "http":
                es.append(Entry("gunicorn", proto, tr, "nginx", label="gunicorn (sync)"))
            rows.append(Row("nginx-%s-%s" % (proto, tr), "per-request",
                            "nginx -> %s over %s, a connection per request" % (PROTO[proto], tr.upper()), es,
                            baseline="baseline/nginx"))
    for tr in ("tcp", "unix"):
        es = [Entry("drover", "fastcgi", tr, "nginx", kept=True, name="drover-fastcgi",
                    label="drover FastCGI, keep_conn"),
              Entry("drover", "http", tr, "nginx", kept=True, name="drover-http",
                    label="drover HTTP/1.1, keepalive"),
              Entry("uwsgi", "fastcgi", tr, "nginx", kept=True, name="uwsgi-fastcgi",
                    label="uWSGI --fastcgi-socket, keep_conn"),
              Entry("uwsgi", "http11", tr, "nginx", kept=True, name="uwsgi-http11",
                    label="uWSGI --http11-socket, keepalive"),
              Entry("uwsgi", "uwsgi", tr, "nginx", name="uwsgi-uwsgi",
                    label="uWSGI --uwsgi-socket (uwsgi_pass)")]
        rows.append(Row("nginx-kept-%s" % tr, "kept", "nginx -> kept upstream connections over %s" % tr.upper(),
                        es, baseline="baseline/nginx"))
    rows.append(Row("direct-http", "direct", "HTTP straight at the server, keep-alive clients", [
        Entry("drover", client_keepalive=True),
        Entry("uwsgi", "http", name="uwsgi", label="uWSGI --http-socket", client_keepalive=True),
        Entry("uwsgi", "http11", name="uwsgi-http11", label="uWSGI --http11-socket", client_keepalive=True),
        Entry("gunicorn", label="gunicorn (sync)", client_keepalive=True),
    ], baseline="baseline/nginx-keepalive"))
    rows.append(Row("apache", "apache", "Apache -> drover (mod_proxy_*, TCP) and mod_wsgi daemon mode", [
        Entry("drover", "fastcgi", "tcp", "apache", name="drover-fastcgi", label="drover via mod_proxy_fcgi"),
        Entry("drover", "scgi", "tcp", "apache", name="drover-scgi", label="drover via mod_proxy_scgi"),
        Entry("drover", "http", "tcp", "apache", name="drover-http", label="drover via mod_proxy_http"),
        Entry("mod_wsgi", "wsgi", "unix", "apache", label="mod_wsgi daemon mode"),
    ], baseline="baseline/apache"))
    post = lambda *a, **k: Entry(*a, app="echo", method="POST", **k)  # noqa: E731
    rows.append(Row("post-direct", "post", "64 KiB POST echoed, HTTP straight at the server, keep-alive clients", [
        post("drover", client_keepalive=True),
        post("uwsgi", label="uWSGI --http-socket", client_keepalive=True),
        post("gunicorn", label="gunicorn (sync)", client_keepalive=True),
    ]))
    for proto in ("http", "fastcgi", "scgi"):
        es = [post("drover", proto, "tcp", "nginx"),
              post("uwsgi", proto, "tcp", "nginx", label="uWSGI %s" % UWSGI_SOCKET[proto])]
        if proto == "http":
            es.append(post("gunicorn", proto, "tcp", "nginx", label="gunicorn (sync)"))
        rows.append(Row("post-nginx-%s-tcp" % proto, "post",
                        "64 KiB POST echoed, nginx -> %s over TCP, a connection per request" % PROTO[proto], es))
    rows.append(Row("baseline", "baseline", "the frontends answering by themselves (subtracted for 'added ms')", [
        Entry("nginx", frontend="nginx", label='nginx `return 200 "Hello, world!"`'),
        Entry("nginx", frontend="nginx", name="nginx-keepalive", client_keepalive=True,
              label='nginx `return 200 "Hello, world!"`, keep-alive client'),
        Entry("apache", frontend="apache", label="Apache, a 13-byte static file"),
    ]))
    rows.append(Row("memory-hello", "memory", "master + workers of the hello app, after 400 requests", [
        Entry("drover"), Entry("uwsgi", label="uWSGI --http-socket"), Entry("gunicorn", label="gunicorn (sync)"),
    ], kind="memory"))
    rows.append(Row("memory-django", "memory",
                    "a preloaded Django pool (tests/integration/apps/django_site), all its processes, "
                    "after 40 admin pages", [
                        Entry("drover", app="django", options=("preload",), label="drover --preload"),
                        Entry("uwsgi", app="django", label="uWSGI (app loaded in the master, no --lazy-apps)"),
                        Entry("drover", app="django", name="drover-nopreload", label="drover without --preload"),
                        Entry("uwsgi", app="django", name="uwsgi-lazy", options=("lazy-apps",),
                              label="uWSGI --lazy-apps"),
                        Entry("gunicorn", app="django", options=("preload",), label="gunicorn --preload"),
                    ], kind="memory"))
    return rows


def select(rows, patterns):
    """BENCH_ROWS: comma-separated row ids or globs (`nginx-*`), or group
    names (`per-request`, `kept`, `direct`, `apache`, `post`, `memory`).
    The baseline row comes along whenever a selected row subtracts it."""
    if not patterns or patterns.strip() in ("", "all"):
        return rows
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [r for r in rows if any(fnmatch.fnmatch(r.id, p) or p == r.group for p in pats)]
    if not chosen:
        raise SystemExit("BENCH_ROWS=%s selects no row; rows: %s" % (patterns, ", ".join(r.id for r in rows)))
    if any(r.baseline for r in chosen) and not any(r.id == "baseline" for r in chosen):
        chosen.append(next(r for r in rows if r.id == "baseline"))
    return chosen
