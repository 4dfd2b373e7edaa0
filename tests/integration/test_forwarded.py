"""Behind a proxy (issue 10): whom drover believes about the client.

Direct clients first: a client that is no trusted proxy (the test binds
127.0.0.2 as its source; forwarded_allow_ips is 127.0.0.1 and ::1 by default)
sends forwarding headers of its own, and nothing changes; a trusted one is
believed; conflicting headers from it get 400; forwarded_allow_ips and
allowed_clients take CIDR ranges. Then real frontends: nginx proxy_pass and
Apache ProxyPass (the etc/*/drover-http.conf recipes) and nginx/Apache over
FastCGI and SCGI, in front of a Flask app and a Django site: their redirects
arrive with the frontend's scheme and host, and the client's address reaches
the application and the access log.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import APPS, drover_binary, free_port, wait_until
from frontends import start_stack

HOST = "app.example.org"


def fetch(port, path, source="127.0.0.1", headers=(), host=None, method="GET"):
    """(status, headers with lower-case names, body) of one request from `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or "127.0.0.1:%d" % port)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def environ(port, path="/environ", **kw):
    status, _, body = fetch(port, path, **kw)
    assert status == 200, body[:500]
    return json.loads(body)


def access_lines(path, marker):
    """The access log lines of the requests whose URI holds marker."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if marker in line]


def wait_access_line(path, marker):
    # The worker writes its line once the response is out: poll for it.
    return wait_until(lambda: access_lines(path, marker), 10, what="an access log line with %s" % marker)[0]


SPOOFED = [("X-Forwarded-For", "203.0.113.9"),
           ("X-Forwarded-Proto", "https"),
           ("X-Forwarded-Host", "evil.example"),
           ("X-Forwarded-Port", "8443"),
           ("Forwarded", "for=203.0.113.10;proto=https;host=evil.example")]


@pytest.fixture
def direct(start_drover, tmp_path, http_port):
    """direct(*toml_lines) -> (port, access log path): fe_app on a direct HTTP listener."""
    def start(*lines):
        access = tmp_path / "access.log"
        cfg = tmp_path / "drover.toml"
        cfg.write_text("\n".join([
            'app = "fe_app:application"',
            'pythonpath = ["%s"]' % APPS,
            'bind = ["127.0.0.1:%d"]' % http_port,
            "workers = 1",
        ] + list(lines) + ['[log]', 'access = "%s"' % access, '[metrics]', 'address = ""']) + "\n")
        d = start_drover("-c", str(cfg), workers=1)
        d.access = access
        return d, http_port, access
    return start


# ---------------------------------------------------------------- direct clients

def test_a_direct_clients_own_forwarding_headers_are_not_believed(direct):
    d, port, access = direct()
    env = environ(port, "/environ?m=spoof", source="127.0.0.2", headers=SPOOFED)
    assert env["REMOTE_ADDR"] == "127.0.0.2"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % port
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(port)
    # passed through untouched, for an application that wants to look
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"
    assert env["HTTP_FORWARDED"] == "for=203.0.113.10;proto=https;host=evil.example"
    assert wait_access_line(access, "m=spoof").startswith("127.0.0.2 - - [")
    # Not read at all: even headers that contradict each other are no error.
    status, _, _ = fetch(port, "/environ", source="127.0.0.2",
                         headers=[("Forwarded", "proto=http"), ("X-Forwarded-Proto", "https")])
    assert status == 200


def test_a_trusted_peers_headers_are_believed(direct):
    d, port, access = direct()
    env = environ(port, "/environ?m=trusted", headers=[
        ("X-Forwarded-For", "6.6.6.6, 203.0.113.9, 127.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", HOST)])
    # the right-most address that is not a trusted proxy, not what the
    # client wrote on the left
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == HOST
    assert env["SERVER_NAME"] == HOST
    assert env["SERVER_PORT"] == "443"
    assert wait_access_line(access, "m=trusted").startswith("203.0.113.9 - - [")

    env = environ(port, headers=[("Forwarded", 'for="[2001:db8::9]:4711";proto=https;host="%s:8443"' % HOST)])
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("2001:db8::9", "4711")
    assert (env["HTTP_HOST"], env["SERVER_PORT"]) == ("%s:8443" % HOST, "8443")


def test_conflicting_headers_from_a_trusted_peer_get_400(direct):
    d, port, access = direct()
    status, headers, body = fetch(port, "/environ?m=conflict",
                                  headers=[("Forwarded", "proto=http"), ("X-Forwarded-Proto", "https")])
    assert status == 400
    assert body == b"Bad Request: conflicting or malformed forwarding headers\n"
    d.wait_log(r'http request from 127\.0\.0\.1 refused: Forwarded and X-Forwarded-\* disagree on the scheme: '
               r'"http" and "https"')
    assert " 400 " in wait_access_line(access, "m=conflict")
    # garbage from a trusted peer too
    status, _, _ = fetch(port, "/environ", headers=[("Forwarded", "for=[::1]")])
    assert status == 400
    # and the worker serves on
    assert environ(port)["REMOTE_ADDR"] == "127.0.0.1"


def test_forwarded_allow_ips_takes_ranges(direct):
    d, port, _ = direct('forwarded_allow_ips = ["127.0.0.2/31"]')
    xff = [("X-Forwarded-For", "203.0.113.9")]
    assert environ(port, source="127.0.0.2", headers=xff)["REMOTE_ADDR"] == "203.0.113.9"
    assert environ(port, source="127.0.0.3", headers=xff)["REMOTE_ADDR"] == "203.0.113.9"
    assert environ(port, source="127.0.0.1", headers=xff)["REMOTE_ADDR"] == "127.0.0.1"


def test_forwarded_allow_ips_star_trusts_everyone_and_empty_no_one(direct):
    d, port, _ = direct('forwarded_allow_ips = ["*"]')
    assert environ(port, source="127.0.0.9", headers=[("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "https"


def test_an_empty_forwarded_allow_ips_trusts_no_one(direct):
    d, port, _ = direct("forwarded_allow_ips = []")
    assert environ(port, headers=[("X-Forwarded-Proto", "https")])["wsgi.url_scheme"] == "http"


def test_allowed_clients_takes_ranges(direct):
    d, port, _ = direct('allowed_clients = ["127.0.0.0/31", "::1/128"]')
    assert environ(port, source="127.0.0.1")["REMOTE_ADDR"] == "127.0.0.1"
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        fetch(port, "/environ", source="127.0.0.2")
    d.wait_log(r"connection from 127\.0\.0\.2 refused: not in allowed_clients")


def _bindv6only():
    try:
        return open("/proc/sys/net/ipv6/bindv6only").read().strip() == "1"
    except OSError:
        return True


@pytest.mark.skipif(not shutil.which("systemd-socket-activate"), reason="systemd-socket-activate missing")
@pytest.mark.skipif(_bindv6only(), reason="IPv6 sockets are IPv6-only by default here")
def test_an_ipv4_mapped_peer_meets_its_ipv4_range(tmp_path):
    """A dual-stack socket (systemd's BindIPv6Only=both) sees an IPv4 client
    as ::ffff:a.b.c.d; allowed_clients and forwarded_allow_ips written in IPv4
    still match it."""
    port = free_port(socket.AF_INET6, "::")
    cfg = tmp_path / "drover.toml"
    cfg.write_text("\n".join([
        'app = "fe_app:application"',
        'pythonpath = ["%s"]' % APPS,
        'bind = [{ address = "[::]:%d", allowed_clients = ["127.0.0.0/31"] }]' % port,
        'forwarded_allow_ips = ["127.0.0.1/32"]',
        "workers = 1",
        "[metrics]", 'address = ""']) + "\n")
    log = tmp_path / "drover.log"
    with open(log, "wb") as err:
        # systemd-socket-activate leaves IPV6_V6ONLY at the system's default
        # (off): IPv4 clients arrive IPv4-mapped.
        proc = subprocess.Popen(["systemd-socket-activate", "-l", "[::]:%d" % port, drover_binary(), "-c", str(cfg)],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        def answered():
            try:
                return environ(port, headers=[("X-Forwarded-For", "203.0.113.9")], source="127.0.0.1")
            except (OSError, http.client.HTTPException):
                return None
        env = wait_until(answered, 20, interval=0.2, what="drover behind systemd-socket-activate")
        assert "listening on [::]:%d (socket from systemd" % port in log.read_text()
        assert env["REMOTE_ADDR"] == "203.0.113.9"  # from 127.0.0.1, seen as ::ffff:127.0.0.1
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            fetch(port, "/environ", source="127.0.0.2")
        wait_until(lambda: "connection from 127.0.0.2 refused: not in allowed_clients" in log.read_text(), 10,
                   what="the refusal in the log")
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- behind real frontends

FRONTEND_STACKS = ["nginx-http-tcp-keepalive", "nginx-http-unix", "apache-http-tcp",
                   "nginx-fastcgi-tcp-keepconn", "nginx-scgi-tcp", "apache-fastcgi-tcp-reuse", "apache-scgi-tcp"]


@pytest.fixture(scope="module", params=FRONTEND_STACKS)
def proxied(request, tmp_path_factory):
    """proxy_app (fe_app, Flask at /flask, Django at /django) mounted at /tls
    too, behind each frontend; its /tls/ location says the scheme is https."""
    workdir = tmp_path_factory.mktemp(request.param)
    access = workdir / "access.log"
    stack = start_stack(request.param, workdir, app="proxy_app:application", script_name="/tls",
                        extra='[log]\naccess = "%s"' % access, env={"DROVER_TEST_DB_DIR": str(workdir)})
    stack.access = access
    yield stack
    stack.stop()


def front(stack, path, **kw):
    return fetch(stack.server.port, path, **kw)


def passed_host(stack, host):
    """The Host the application sees when the client asked for `host`:
    Debian's fastcgi_params and scgi_params pass HTTP_HOST as nginx's $host,
    which drops the client's port (a security workaround, their comment
    says); the others keep it."""
    if stack.frontend == "nginx" and stack.protocol != "http":
        return host.split(":")[0]
    return host


@pytest.mark.parametrize("path", ["/tls/flask/to_next", "/tls/django/to_next/"])
def test_redirects_carry_the_frontends_https_scheme_and_host(proxied, path):
    status, headers, body = front(proxied, path, host=HOST)
    assert status == 302, body[:500]
    assert headers["location"] == "https://%s/next" % HOST


@pytest.mark.parametrize("path", ["/flask/to_next", "/django/to_next/"])
def test_redirects_carry_the_frontends_port(proxied, path):
    host = "%s:%d" % (HOST, proxied.server.port)
    status, headers, body = front(proxied, path, host=host)
    assert status == 302, body[:500]
    assert headers["location"] == "http://%s/next" % passed_host(proxied, host)


def test_the_client_and_not_the_frontend_reaches_the_app_and_the_log(proxied):
    """The client is 127.0.0.2 (no trusted proxy), and sends forwarding
    headers of its own: over HTTP the frontend is the trusted peer and its
    X-Forwarded-For names the client; over FastCGI and SCGI the web server's
    REMOTE_ADDR does. What the client claimed is believed nowhere."""
    port = proxied.server.port
    host = "%s:%d" % (HOST, port)
    env = json.loads(front(proxied, "/environ?m=client", source="127.0.0.2", host=host, headers=SPOOFED)[2])
    assert env["REMOTE_ADDR"] == "127.0.0.2"
    assert env["wsgi.url_scheme"] == "http"
    assert env["HTTP_HOST"] == passed_host(proxied, host)
    assert env["SERVER_NAME"] == HOST
    assert env["SERVER_PORT"] == str(port)
    line = wait_access_line(proxied.access, "m=client")
    assert line.startswith("127.0.0.2 - - ["), line


def test_a_trusted_clients_x_forwarded_for_is_believed_through_the_frontend(proxied):
    """127.0.0.1 is trusted: behind nginx over HTTP its X-Forwarded-For is the
    left part of nginx's; over FastCGI and SCGI, the web server's REMOTE_ADDR
    (127.0.0.1) is the trusted peer and the header it passes on counts."""
    env = json.loads(front(proxied, "/environ?m=lb", host=HOST, headers=[("X-Forwarded-For", "203.0.113.9")])[2])
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert wait_access_line(proxied.access, "m=lb").startswith("203.0.113.9 - - [")


def test_the_https_location_tells_the_app(proxied):
    env = json.loads(front(proxied, "/tls/environ", host=HOST)[2])
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == HOST
    assert env["SCRIPT_NAME"] == "/tls"
    if proxied.protocol == "http":
        assert env["SERVER_PORT"] == "443"
