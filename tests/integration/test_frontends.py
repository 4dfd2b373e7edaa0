"""drover's FastCGI and SCGI responders behind real nginx and Apache.

Every case of frontends.STACKS (nginx FastCGI over TCP and a unix socket,
with and without an upstream keepalive pool; nginx SCGI; Apache
mod_proxy_fcgi with and without enablereuse; Apache mod_proxy_scgi) runs the
same requests. drover serves apps/fe_app.py with 2 workers and
script_name = "/app"; the site configs come from etc/nginx and etc/apache."""
import os
import threading

import requests

from frontends import stack  # noqa: F401,F811  (the parametrized fixture)


def test_get_with_query_string(stack):
    r = requests.get(stack.url("/app/environ?a=1&b=x%20y&empty="), timeout=10)
    assert r.status_code == 200, r.text
    env = r.json()
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "a=1&b=x%20y&empty="
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/environ"
    assert env["wsgi.url_scheme"] == "http"
    assert "CONTENT_LENGTH" not in env or env["CONTENT_LENGTH"] in ("", "0")


def test_post_bodies_round_trip(stack):
    with requests.Session() as s:
        for size in (0, 64 * 1024, 8 * 1024 * 1024):
            body = os.urandom(size)
            r = s.post(stack.url("/app/echo"), data=body, timeout=60,
                       headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, (size, r.text[:300])
            assert r.headers["X-Body-Length"] == str(size)
            assert len(r.content) == size
            assert r.content == body, size


def test_bodyless_answers_with_a_content_length_reach_the_client(stack):
    """Issue 9, defect 4: a 304 with Content-Length used to send nothing at
    all (nginx: 502)."""
    with requests.Session() as s:
        for _ in range(2):  # and the connection stays usable after it
            r = s.get(stack.url("/app/bodyless?status=304&length=120"), timeout=10)
            assert r.status_code == 304, r.text
            assert r.headers.get("ETag") == '"v1"'
            assert r.content == b""
            r = s.get(stack.url("/app/bodyless?status=204&length=7"), timeout=10)
            assert r.status_code == 204, r.text
            assert r.content == b""
            assert s.get(stack.url("/app/pid"), timeout=10).status_code == 200


def test_streamed_response(stack):
    # 20 chunks produced over ~0.2 s with no Content-Length: the frontend
    # relays it chunked. (Whether it relays each chunk at once is its own
    # buffering policy, on by default in these snippets, as a prefork pool
    # wants; that drover sends each chunk as it is produced is proven with
    # raw clients in test_fastcgi.py and test_scgi.py.)
    r = requests.get(stack.url("/app/stream"), params={"n": "20", "delay": "0.01"}, timeout=30)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.headers
    assert r.content == b"".join(b"chunk %d\n" % i for i in range(20))


def test_app_exception_gives_500(stack):
    r = requests.get(stack.url("/app/error"), timeout=10)
    assert r.status_code == 500
    assert r.text == "Internal Server Error\n"
    stack.drover.wait_log(r"RuntimeError: boom from fe_app")
    # and the same stack goes on serving
    assert requests.get(stack.url("/app/pid"), timeout=10).status_code == 200


def test_200_sequential_requests(stack):
    # Whether backend connections were reused is read from drover's own
    # counter of accept(2) calls (drover_accepted_connections_total on the
    # metrics endpoint): the app cannot see the FastCGI connection (its
    # REMOTE_PORT is the browser's), and counting sockets with ss would race
    # with the frontend's closes. A frontend that keeps its backend
    # connections costs a handful of accepts for 200 requests; one that does
    # not costs one accept per request.
    before = stack.accepted()
    pids = set()
    with requests.Session() as s:
        for i in range(200):
            r = s.get(stack.url("/app/pid"), params={"i": str(i)}, timeout=10)
            assert r.status_code == 200, (i, r.text)
            pids.add(int(r.text))
    accepted = stack.accepted() - before
    assert pids <= set(stack.drover.live_worker_pids())
    if stack.keep:
        assert accepted <= 4, "%d connections accepted for 200 requests: not reused" % accepted
    else:
        assert accepted >= 200, accepted


def test_frontend_params_reach_the_environ(stack):
    r = requests.get(stack.url("/app/environ?x=1"), timeout=10, headers={"X-Custom": "yes"})
    env = r.json()
    assert env["REQUEST_URI"] == "/app/environ?x=1"
    assert env["DOCUMENT_ROOT"] == str(stack.docroot)
    assert env["HTTP_X_CUSTOM"] == "yes"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(stack.server.port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert "HTTPS" not in env


def test_outside_the_mount_path_info_is_the_whole_path(stack):
    # The frontends send SCRIPT_NAME as the whole path and no PATH_INFO
    # (nginx fastcgi_params, Apache), or only REQUEST_URI (nginx scgi_params):
    # drover makes it PATH_INFO, and strips script_name only where it is a prefix.
    env = requests.get(stack.url("/environ"), timeout=10).json()
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/environ"
    env = requests.get(stack.url("/application/environ"), timeout=10).json()
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/application/environ"


def test_https_on_from_the_frontend_sets_the_url_scheme(stack):
    env = requests.get(stack.url("/tls/environ"), timeout=10).json()
    assert env["HTTPS"] == "on"
    assert env["wsgi.url_scheme"] == "https"
    assert env["PATH_INFO"] == "/tls/environ"


def test_concurrent_requests_all_answered(stack):
    # More clients than workers: the frontend queues, nothing is refused.
    errors = []
    bodies = []

    def client(n):
        try:
            with requests.Session() as s:
                for i in range(10):
                    r = s.post(stack.url("/app/echo"), data=b"%d-%d" % (n, i), timeout=30)
                    if r.status_code != 200 or r.content != b"%d-%d" % (n, i):
                        errors.append((n, i, r.status_code, r.content[:100]))
                    bodies.append(r.content)
        except Exception as e:  # reported below, in the test's thread
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(bodies) == 60
