"""Real frameworks run unchanged on drover: a Flask app and a Django project
(admin, auth, sessions, messages, CSRF, uploads) give the same answers
through drover as through the standard library's reference server,
wsgiref.simple_server. Each case runs the same client flow against both and
compares status, key headers and body, with per-request randomness (CSRF
tokens, cookie values, expiry dates, the server's port) normalised away.
"""
import hashlib
import json
import os
import re
import socket
import subprocess

import pytest
import requests

from conftest import APPS, Drover, free_port, wait_until

DJANGO_SITE = APPS / "django_site"
MiB = 1024 * 1024

# The reference server: wsgiref.simple_server with the same app.
WSGIREF_SCRIPT = r"""
import importlib, sys
from wsgiref.simple_server import make_server
port, spec, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
sys.path[:0] = paths
module, _, attr = spec.partition(":")
app = getattr(importlib.import_module(module), attr or "application")
make_server("127.0.0.1", port, app).serve_forever()
"""


class WsgirefServer:
    def __init__(self, spec, pythonpath, workdir, env):
        self.port = free_port()
        self.log_path = workdir / ("wsgiref-%d.log" % self.port)
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-c", WSGIREF_SCRIPT, str(self.port), spec, str(pythonpath)],
            stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=str(workdir))

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("wsgiref server exited:\n%s" % self.log_path.read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, 30, what="wsgiref.simple_server on port %d" % self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class Pair:
    """The same app behind drover and behind wsgiref."""

    def __init__(self, drover, drover_port, reference):
        self.drover = drover
        self.bases = {"drover": "http://127.0.0.1:%d" % drover_port,
                      "wsgiref": "http://127.0.0.1:%d" % reference.port}

    def run(self, flow):
        """Runs flow(base_url, session) against both servers; the normalised
        observations must be equal. Returns drover's."""
        seen = {}
        for name, base in self.bases.items():
            with requests.Session() as session:
                seen[name] = flow(base, session)
        assert seen["drover"] == seen["wsgiref"]
        return seen["drover"]


def serve_both(tmp_path_factory, name, spec, pythonpath, env=None, workers=2):
    workdir = tmp_path_factory.mktemp(name)
    port = free_port()
    # (--metrics "": the default metrics port is for the tests about it)
    drover = Drover(["--metrics", "", "-b", "127.0.0.1:%d" % port, "-w", str(workers),
                     "--pythonpath", str(pythonpath), spec], workdir, env=env)
    reference = None
    try:
        drover.wait_ready(workers)
        reference = WsgirefServer(spec, pythonpath, workdir, env or {})
        return Pair(drover, port, reference), [drover, reference]
    except BaseException:
        drover.stop()
        if reference:
            reference.stop()
        raise


# ---------------------------------------------------------------- normalising

KEY_HEADERS = ("Content-Type", "Content-Length", "Location", "X-Frame-Options", "Vary", "X-Content-Type-Options",
               "Referrer-Policy", "Cache-Control", "Content-Disposition", "Content-Range", "ETag", "Last-Modified")

TOKEN_RE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+(")')
PORT_RE = re.compile(rb"127\.0\.0\.1:\d+")
EXPIRES_RE = re.compile(r"(?i)(expires=)[^;]+")


def normal_cookie(header):
    """"name=value; attrs" -> "name=<value>; attrs" with the date normalised."""
    name, _, rest = header.partition("=")
    _, _, attrs = rest.partition(";")
    return "%s=<value>;%s" % (name, EXPIRES_RE.sub(r"\1<date>", attrs))


def observe(r, body=True):
    """What must be equal between the servers for one response."""
    content = TOKEN_RE.sub(rb"\1<token>\2", PORT_RE.sub(b"<host>", r.content))
    out = {
        "status": r.status_code,
        "headers": {h: r.headers.get(h) for h in KEY_HEADERS},
        "cookies": sorted(normal_cookie(c) for c in r.raw.headers.getlist("Set-Cookie")),
        "length": len(r.content),
    }
    if body:
        out["body"] = content
    if "Location" in r.headers:
        out["headers"]["Location"] = PORT_RE.sub(b"<host>", r.headers["Location"].encode()).decode()
    return out


def csrf_token(r):
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text)
    assert m, "no CSRF token in:\n%s" % r.text[:2000]
    return m.group(1)


# ---------------------------------------------------------------- Flask

@pytest.fixture(scope="module")
def flask_pair(tmp_path_factory):
    pair, started = serve_both(tmp_path_factory, "flask", "flask_app:app", APPS)
    yield pair
    for p in started:
        p.stop()


def test_flask_plain_and_query_strings(flask_pair):
    def flow(base, s):
        return [observe(s.get(base + "/", timeout=10)),
                observe(s.get(base + "/query?a=1&a=2&b=J%C3%BCrgen&empty=&sp=a+b%20c", timeout=10)),
                observe(s.get(base + "/user/caf%C3%A9", timeout=10))]
    root, query, user = flask_pair.run(flow)
    assert (root["status"], root["body"]) == (200, b"hello from flask\n")
    data = json.loads(query["body"])
    assert data["args"] == {"a": ["1", "2"], "b": ["Jürgen"], "empty": [""], "sp": ["a b c"]}
    assert data["url"] == "http://<host>/query?a=1&a=2&b=Jürgen&empty=&sp=a+b%20c"  # werkzeug shows an IRI
    assert json.loads(user["body"]) == {"name": "café", "length": 4}


def test_flask_json_post(flask_pair):
    payload = {"numbers": [1, 2, 3.5], "text": "naïve ☃", "nested": {"ok": True}}

    def flow(base, s):
        return observe(s.post(base + "/json", json=payload, timeout=10))
    seen = flask_pair.run(flow)
    assert seen["status"] == 200
    assert json.loads(seen["body"]) == {"received": payload, "keys": ["nested", "numbers", "text"],
                                        "total": 6.5, "content_type": "application/json"}


def test_flask_multipart_form(flask_pair):
    blob = os.urandom(300000)

    def flow(base, s):
        return observe(s.post(base + "/form", data={"field": "välue"},
                              files={"upload": ("data.bin", blob, "application/octet-stream")}, timeout=20))
    seen = flask_pair.run(flow)
    assert json.loads(seen["body"]) == {"form": {"field": "välue"}, "files": {
        "upload": {"filename": "data.bin", "sha256": hashlib.sha256(blob).hexdigest()}}}


def test_flask_streamed_response(flask_pair):
    def flow(base, s):
        r = s.get(base + "/stream?n=200&who=me", stream=True, timeout=10)
        chunked = r.headers.get("Transfer-Encoding") == "chunked"
        return observe(r), chunked
    drover_seen = None
    with requests.Session() as s:
        drover_seen = flow(flask_pair.bases["drover"], s)
    with requests.Session() as s:
        reference_seen = flow(flask_pair.bases["wsgiref"], s)
    assert drover_seen[0] == reference_seen[0]
    assert drover_seen[0]["body"] == b"".join(b"line %d of 200 for me\n" % i for i in range(200))
    # drover streams it chunked over HTTP/1.1 (wsgiref, an HTTP/1.0 server, by closing)
    assert drover_seen[1] is True


def test_flask_errors(flask_pair):
    def flow(base, s):
        return [observe(s.get(base + "/nope", timeout=10)),
                observe(s.get(base + "/teapot", timeout=10)),
                observe(s.get(base + "/forbidden", timeout=10)),
                observe(s.get(base + "/crash", timeout=10))]
    missing, teapot, forbidden, crash = flask_pair.run(flow)
    assert missing["status"] == 404 and json.loads(missing["body"]) == {"error": "not found", "path": "/nope"}
    assert teapot["status"] == 418 and json.loads(teapot["body"])["detail"] == "short and stout"
    assert forbidden["status"] == 403
    assert crash["status"] == 500 and b"Internal Server Error" in crash["body"]
    # Flask logs the exception to wsgi.errors: drover's error log, per line,
    # tagged with the worker's pid.
    flask_pair.drover.wait_log(r"\[\d+\] error: worker: app: .*Exception on /crash \[GET\]")
    flask_pair.drover.wait_log(r"\[\d+\] error: worker: app: RuntimeError: an unhandled error in a Flask view")


def test_flask_cookie_redirect_and_head(flask_pair):
    def flow(base, s):
        return [observe(s.get(base + "/cookie", allow_redirects=False, timeout=10)),
                observe(s.head(base + "/head_or_get", timeout=10))]
    cookie, head = flask_pair.run(flow)
    assert cookie["status"] == 302 and cookie["headers"]["Location"] == "/"
    assert cookie["cookies"] == ["flavour=<value>; Expires=<date>; Max-Age=60; HttpOnly; Path=/"]
    assert head["status"] == 200 and head["body"] == b""


def test_flask_send_file_and_ranges(flask_pair, tmp_path):
    data = os.urandom(2 * MiB + 5)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    def flow(base, s):
        return [observe(s.get(base + "/download?path=%s" % path, timeout=20)),
                observe(s.get(base + "/download?path=%s" % path, headers={"Range": "bytes=1000-1999"}, timeout=20))]
    whole, part = flask_pair.run(flow)
    assert whole["status"] == 200 and whole["body"] == data
    assert whole["headers"]["Content-Length"] == str(len(data))
    assert whole["headers"]["Content-Disposition"] == "attachment; filename=data.bin"
    assert part["status"] == 206 and part["body"] == data[1000:2000]
    assert part["headers"]["Content-Range"] == "bytes 1000-1999/%d" % len(data)


# ---------------------------------------------------------------- Django

def django_env(db_dir):
    return {"DJANGO_SETTINGS_MODULE": "dsite.settings", "DROVER_TEST_DB_DIR": str(db_dir),
            "PYTHONDONTWRITEBYTECODE": "1"}


def manage(db_dir, *args, env=None):
    full_env = dict(os.environ)
    full_env.update(django_env(db_dir))
    full_env["PYTHONPATH"] = str(DJANGO_SITE)
    full_env.update(env or {})
    p = subprocess.run(["/usr/bin/python3", "-m", "django", *args], env=full_env, capture_output=True, text=True,
                       timeout=120, cwd=str(db_dir))
    assert p.returncode == 0, "django-admin %s failed:\n%s\n%s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def django_pair(tmp_path_factory):
    db_dir = tmp_path_factory.mktemp("django-db")
    manage(db_dir, "migrate", "--noinput")
    manage(db_dir, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com",
           env={"DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD})
    pair, started = serve_both(tmp_path_factory, "django", "dsite.wsgi:application", DJANGO_SITE,
                               env=django_env(db_dir))
    yield pair
    for p in started:
        p.stop()


def test_django_admin_login_page(django_pair):
    def flow(base, s):
        return [observe(s.get(base + "/admin/", allow_redirects=False, timeout=10)),
                observe(s.get(base + "/admin/login/?next=/admin/", timeout=10))]
    redirect, login = django_pair.run(flow)
    assert redirect["status"] == 302 and redirect["headers"]["Location"] == "/admin/login/?next=/admin/"
    assert login["status"] == 200
    assert b"Django administration" in login["body"] and b'value="<token>"' in login["body"]
    assert login["headers"]["X-Frame-Options"] == "DENY"
    assert [c.split("=")[0] for c in login["cookies"]] == ["csrftoken"]


def test_django_admin_session_login(django_pair):
    def flow(base, s):
        token = csrf_token(s.get(base + "/admin/login/?next=/admin/", timeout=10))
        wrong = s.post(base + "/admin/login/?next=/admin/", timeout=10, data={
            "csrfmiddlewaretoken": token, "username": "admin", "password": "wrong", "next": "/admin/"})
        token = csrf_token(wrong)
        right = s.post(base + "/admin/login/?next=/admin/", allow_redirects=False, timeout=10, data={
            "csrfmiddlewaretoken": token, "username": "admin", "password": ADMIN_PASSWORD, "next": "/admin/"})
        index = s.get(base + "/admin/", timeout=10)
        users = s.get(base + "/admin/auth/user/", timeout=10)
        return [observe(wrong), observe(right), observe(index), observe(users)]
    wrong, right, index, users = django_pair.run(flow)
    assert wrong["status"] == 200 and b"Please enter the correct username and password" in wrong["body"]
    assert right["status"] == 302 and right["headers"]["Location"] == "/admin/"
    assert sorted(c.split("=")[0] for c in right["cookies"]) == ["csrftoken", "sessionid"]
    assert index["status"] == 200 and b"Site administration" in index["body"]
    assert users["status"] == 200 and b"admin@example.com" in users["body"]


def test_django_csrf_protected_form(django_pair):
    message = "Grüße from the test\n" * 20

    def flow(base, s):
        page = s.get(base + "/contact/", timeout=10)
        token = csrf_token(page)
        posted = s.post(base + "/contact/", data={"csrfmiddlewaretoken": token, "name": "Zoë",
                                                  "message": message}, allow_redirects=False, timeout=10)
        thanks = s.get(base + "/contact/thanks/", timeout=10)
        invalid = s.post(base + "/contact/", data={"csrfmiddlewaretoken": token, "name": ""}, timeout=10)
        with requests.Session() as fresh:
            refused = fresh.post(base + "/contact/", data={"name": "Zoë", "message": "no token"},
                                 allow_redirects=False, timeout=10)
        # a cookie but no token in the form is refused too
        missing = s.post(base + "/contact/", data={"name": "Zoë", "message": "no token"},
                         allow_redirects=False, timeout=10)
        return [observe(page), observe(posted), observe(thanks), observe(invalid), observe(refused),
                observe(missing)]
    page, posted, thanks, invalid, refused, missing = django_pair.run(flow)
    assert page["status"] == 200
    assert posted["status"] == 302 and posted["headers"]["Location"] == "/contact/thanks/"
    assert thanks["status"] == 200
    # (the form field strips the trailing newline)
    assert ("Thanks, Zoë: %d characters received." % len(message.strip())).encode() in thanks["body"]
    assert invalid["status"] == 200 and b"This field is required." in invalid["body"]
    assert refused["status"] == 403 and missing["status"] == 403
    assert b"CSRF verification failed" in refused["body"]


@pytest.mark.parametrize("size", [0, 1, 100 * 1024, 3 * MiB])
def test_django_file_upload(django_pair, size):
    blob = os.urandom(size)
    other = b"second file\n" * 100

    def flow(base, s):
        r = s.post(base + "/upload/", data={"title": "Ünïcode title", "n": "42"},
                   files={"doc": ("dóc.bin", blob, "application/octet-stream"),
                          "other": ("other.txt", other, "text/plain")}, timeout=60)
        return observe(r)
    seen = django_pair.run(flow)
    assert seen["status"] == 200
    data = json.loads(seen["body"])
    assert data["fields"] == {"title": "Ünïcode title", "n": "42"}
    assert data["files"]["doc"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert data["files"]["doc"]["size"] == size and data["files"]["doc"]["name"] == "dóc.bin"
    assert data["files"]["other"]["sha256"] == hashlib.sha256(other).hexdigest()
    # over FILE_UPLOAD_MAX_MEMORY_SIZE the upload went through a temporary file
    assert data["files"]["doc"]["in_memory"] == ("TemporaryUploadedFile" if size > MiB else "InMemoryUploadedFile")


def test_django_request_and_404(django_pair):
    def flow(base, s):
        return [observe(s.get(base + "/info/?q=caf%C3%A9&q=2&x=a+b", timeout=10)),
                observe(s.get(base + "/nowhere/caf%C3%A9/", timeout=10)),
                observe(s.get(base + "/info", allow_redirects=False, timeout=10))]
    info, missing, slash = django_pair.run(flow)
    assert json.loads(info["body"]) == {
        "path": "/info/", "path_info": "/info/", "get": {"q": ["café", "2"], "x": ["a b"]}, "method": "GET",
        "secure": False, "host": "<host>", "full_path": "/info/?q=caf%C3%A9&q=2&x=a+b"}
    assert missing["status"] == 404
    # APPEND_SLASH
    assert slash["status"] == 301 and slash["headers"]["Location"] == "/info/"


def test_django_file_and_streaming_responses(django_pair, tmp_path):
    data = os.urandom(3 * MiB + 1)
    path = tmp_path / "data.bin"
    path.write_bytes(data)

    def flow(base, s):
        return [observe(s.get(base + "/download/?path=%s" % path, timeout=20)),
                observe(s.get(base + "/stream/?n=300", timeout=20))]
    download, stream = django_pair.run(flow)
    assert download["status"] == 200 and download["body"] == data
    assert download["headers"]["Content-Length"] == str(len(data))
    assert download["headers"]["Content-Disposition"] == 'attachment; filename="data.bin"'
    assert stream["body"] == b"".join(b"row %d\n" % i for i in range(300))
