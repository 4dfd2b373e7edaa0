"""drover's FastCGI responder, driven by a raw-socket client written here
from the FastCGI 1.0 specification (records built by hand, so the tests can
also send what no web server would) and by libfcgi's cgi-fcgi.

drover serves apps/fe_app.py. Expected answers follow the specification:
FCGI_GET_VALUES is answered, a second request on a connection gets
FCGI_CANT_MPX_CONN, other roles FCGI_UNKNOWN_ROLE, unknown record types
FCGI_UNKNOWN_TYPE, FCGI_ABORT_REQUEST ends the request; malformed input
closes its connection with a log line and the worker goes on serving."""
import json
import os
import socket
import struct
import subprocess

import pytest

from conftest import free_port, wait_until
from frontends import drover_config, split_cgi_response


VERSION = 1
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

RESPONDER = 1
AUTHORIZER = 2
FILTER = 3

KEEP_CONN = 1

REQUEST_COMPLETE = 0
CANT_MPX_CONN = 1
OVERLOADED = 2
UNKNOWN_ROLE = 3


def record(rtype, request_id, content=b"", version=VERSION, padding=None):
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", version, rtype, request_id, len(content), padding) + content + b"\0" * padding


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def name_value(name, value):
    if isinstance(name, str):
        name = name.encode("latin-1")
    if isinstance(value, str):
        value = value.encode("latin-1")
    return _length(len(name)) + _length(len(value)) + name + value


def parse_pairs(data):
    out = {}
    pos = 0

    def length():
        nonlocal pos
        if data[pos] & 0x80:
            n = struct.unpack(">I", data[pos:pos + 4])[0] & 0x7FFFFFFF
            pos += 4
        else:
            n = data[pos]
            pos += 1
        return n

    while pos < len(data):
        nl = length()
        vl = length()
        out[data[pos:pos + nl].decode("latin-1")] = data[pos + nl:pos + nl + vl].decode("latin-1")
        pos += nl + vl
    return out


def begin(request_id, role=RESPONDER, flags=0):
    return record(BEGIN_REQUEST, request_id, struct.pack(">HB5x", role, flags))


def stream(rtype, request_id, data):
    """A stream's records (at most 65535 bytes each) and its empty end record."""
    out = []
    for i in range(0, len(data), 65535):
        out.append(record(rtype, request_id, data[i:i + 65535]))
    out.append(record(rtype, request_id, b""))
    return b"".join(out)


def params(request_id, env):
    return stream(PARAMS, request_id, b"".join(name_value(k, v) for k, v in env.items()))


def request(request_id, env, body=b"", flags=0):
    """BEGIN_REQUEST, the PARAMS stream and the STDIN stream of one request."""
    env = dict(env)
    env.setdefault("REQUEST_METHOD", "POST" if body else "GET")
    if body:
        env.setdefault("CONTENT_LENGTH", str(len(body)))
    return begin(request_id, flags=flags) + params(request_id, env) + stream(STDIN, request_id, body)


class Closed(Exception):
    """The server closed the connection."""


class Client:
    def __init__(self, address, timeout=30, source=None):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if source:
                self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed with %d bytes of a record read" % len(self.buf))
            self.buf += chunk

    def read_record(self):
        """(type, request_id, content) of the next record."""
        self._fill(8)
        version, rtype, request_id, length, padding = struct.unpack(">BBHHBx", self.buf[:8])
        assert version == VERSION, self.buf[:8]
        self._fill(8 + length + padding)
        content = self.buf[8:8 + length]
        self.buf = self.buf[8 + length + padding:]
        return rtype, request_id, content

    def read_response(self, request_id, other=None):
        """Reads up to this request's END_REQUEST: (stdout, stderr, protocol_status).

        Records for other request ids go to other (a list) when given."""
        out = []
        err = []
        while True:
            rtype, rid, content = self.read_record()
            if rid != request_id:
                assert other is not None, (rtype, rid, content)
                other.append((rtype, rid, content))
                continue
            if rtype == STDOUT:
                out.append(content)
            elif rtype == STDERR:
                err.append(content)
            elif rtype == END_REQUEST:
                app_status, protocol_status = struct.unpack(">IB3x", content)
                return b"".join(out), b"".join(err), protocol_status
            else:
                raise AssertionError("unexpected record type %d for request %d" % (rtype, rid))

    def at_eof(self):
        """True when the server has closed the connection (and sent nothing more)."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def fcgi(start_drover, tmp_path):
    """fcgi(workers=1, allowed=None, unix=False) -> (Drover, address for Client)."""

    def start(workers=1, allowed=None, unix=False):
        if unix:
            address = str(tmp_path / "fcgi.sock")
            bind = '"fastcgi://unix:%s"' % address
        else:
            port = free_port()
            address = ("127.0.0.1", port)
            bind = '{ address = "fastcgi://127.0.0.1:%d"%s }' % (
                port, "" if allowed is None else ", allowed_clients = %s" % toml_list(allowed))
        conf = drover_config(tmp_path / "drover.toml", bind, workers=workers)
        return start_drover("-c", str(conf), workers=workers), address

    return start


def toml_list(items):
    return "[%s]" % ", ".join('"%s"' % i for i in items)


def get(address, path, query="", flags=0, request_id=1, source=None):
    """One GET on a new connection: (status, headers, body)."""
    with Client(address, source=source) as c:
        c.send(request(request_id, {"SCRIPT_NAME": path, "QUERY_STRING": query}, flags=flags))
        out, _, status = c.read_response(request_id)
        assert status == REQUEST_COMPLETE
        return split_cgi_response(out)


def worker_pid(address):
    status, _, body = get(address, "/pid")
    assert status == 200
    return int(body)


# ---------------------------------------------------------------- requests

def test_get_post_and_params(fcgi):
    _, address = fcgi()
    status, headers, body = get(address, "/environ", "a=1&b=%20")
    assert status == 200
    assert headers["content-type"] == "application/json"
    env = json.loads(body)
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["PATH_INFO"] == "/environ"
    assert env["SCRIPT_NAME"] == ""
    for size in (0, 1, 65535, 65536, 8 * 1024 * 1024 + 3):
        data = os.urandom(size)
        with Client(address) as c:
            c.send(request(1, {"SCRIPT_NAME": "/echo", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(size)},
                           data))
            out, _, protocol_status = c.read_response(1)
        status, headers, body = split_cgi_response(out)
        assert (status, headers["x-body-length"], protocol_status) == (200, str(size), REQUEST_COMPLETE)
        assert body == data


def test_body_without_content_length_ends_at_the_empty_stdin(fcgi):
    # nginx sends CONTENT_LENGTH "" for a chunked request body it streams.
    _, address = fcgi()
    with Client(address) as c:
        c.send(begin(1) + params(1, {"SCRIPT_NAME": "/echo", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": ""}))
        for part in (b"abc", b"d" * 70000, b"e"):
            c.send(record(STDIN, 1, part[:65535]) + (record(STDIN, 1, part[65535:]) if len(part) > 65535 else b""))
        c.send(record(STDIN, 1, b""))
        out, _, _ = c.read_response(1)
    assert split_cgi_response(out)[2] == b"abc" + b"d" * 70000 + b"e"


def test_keep_conn_serves_requests_in_turn_on_one_connection(fcgi):
    _, address = fcgi()
    with Client(address) as c:
        pids = set()
        for i, rid in enumerate((1, 1, 7, 65535)):
            c.send(request(rid, {"SCRIPT_NAME": "/pid"}, flags=KEEP_CONN))
            out, _, status = c.read_response(rid)
            assert status == REQUEST_COMPLETE
            pids.add(split_cgi_response(out)[2])
        assert len(pids) == 1
        # without FCGI_KEEP_CONN the server closes after the request
        c.send(request(2, {"SCRIPT_NAME": "/pid"}))
        c.read_response(2)
        assert c.at_eof()


def test_early_response_then_late_stdin_and_next_request(fcgi):
    # The app answers /pid without reading the body, before the web server
    # has sent it (Apache sends the empty FCGI_STDIN in its own packet). The
    # late STDIN and the next request then arrive together; the next request
    # must be served, not swallowed while the worker finishes the first one.
    _, address = fcgi()
    with Client(address, timeout=10) as c:
        c.send(begin(1, flags=KEEP_CONN) + params(1, {"SCRIPT_NAME": "/pid", "REQUEST_METHOD": "POST",
                                                      "CONTENT_LENGTH": "5"}))
        out, _, status = c.read_response(1)
        assert split_cgi_response(out)[0] == 200
        c.send(record(STDIN, 1, b"hello") + record(STDIN, 1, b"") +
               request(1, {"SCRIPT_NAME": "/echo"}, b"second", flags=KEEP_CONN))
        out, _, status = c.read_response(1)
        assert split_cgi_response(out)[2] == b"second"


def test_streamed_response_is_sent_as_it_is_produced(fcgi, tmp_path):
    # The app sends chunk 0 and then waits for the gate file: the first
    # STDOUT records must arrive while the response is still being produced.
    _, address = fcgi()
    gate = tmp_path / "gate"
    with Client(address) as c:
        c.send(request(1, {"SCRIPT_NAME": "/stream", "QUERY_STRING": "n=5&gate=%s" % gate}))
        got = b""
        while b"chunk 0\n" not in got:
            rtype, rid, content = c.read_record()
            assert (rtype, rid) == (STDOUT, 1)
            got += content
        gate.write_text("open")
        out, _, status = c.read_response(1)
    status, headers, body = split_cgi_response(got + out)
    assert body == b"".join(b"chunk %d\n" % i for i in range(5))


def test_app_exception_gives_500(fcgi):
    d, address = fcgi()
    status, headers, body = get(address, "/error")
    assert status == 500
    assert body == b"Internal Server Error\n"
    d.wait_log(r"RuntimeError: boom from fe_app")


def test_head_request_has_no_body(fcgi):
    _, address = fcgi()
    with Client(address) as c:
        c.send(request(1, {"SCRIPT_NAME": "/environ", "REQUEST_METHOD": "HEAD"}))
        out, _, _ = c.read_response(1)
    status, headers, body = split_cgi_response(out)
    assert status == 200 and int(headers["content-length"]) > 0 and body == b""


# ---------------------------------------------------------------- management and refusals

def test_get_values_answers_the_limits(fcgi):
    _, address = fcgi(workers=2)
    asked = b"".join(name_value(n, "") for n in ("FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "OTHER"))
    with Client(address) as c:
        c.send(record(GET_VALUES, 0, asked))
        rtype, rid, content = c.read_record()
        assert (rtype, rid) == (GET_VALUES_RESULT, 0)
        # and the connection serves a request afterwards
        c.send(request(1, {"SCRIPT_NAME": "/pid"}))
        out, _, _ = c.read_response(1)
        assert split_cgi_response(out)[0] == 200
    # one request at a time per worker, as many as there are workers
    assert parse_pairs(content) == {"FCGI_MAX_CONNS": "2", "FCGI_MAX_REQS": "2", "FCGI_MPXS_CONNS": "0"}


def test_second_request_on_a_busy_connection_gets_cant_mpx_conn(fcgi):
    _, address = fcgi()
    with Client(address) as c:
        # sent back to back: request 2 arrives while request 1 is served
        c.send(request(1, {"SCRIPT_NAME": "/sleep", "QUERY_STRING": "s=0.2"}, flags=KEEP_CONN) +
               request(2, {"SCRIPT_NAME": "/pid"}, flags=KEEP_CONN))
        others = []
        out, _, status = c.read_response(1, other=others)
        assert status == REQUEST_COMPLETE and split_cgi_response(out)[2].startswith(b"slept")
        while not others:
            others.append(c.read_record())
        rtype, rid, content = others[0]
        assert (rtype, rid) == (END_REQUEST, 2)
        assert struct.unpack(">IB3x", content)[1] == CANT_MPX_CONN
        assert len(others) == 1  # nothing else of request 2: no STDOUT
        # the kept connection serves the next request
        c.send(request(3, {"SCRIPT_NAME": "/pid"}, flags=KEEP_CONN))
        assert split_cgi_response(c.read_response(3)[0])[0] == 200


def test_second_request_during_a_streamed_response_gets_cant_mpx_conn(fcgi):
    # The response of request 1 is under way (its first STDOUT is out, more
    # follows every 10 ms) when request 2 comes: the refusal must come while
    # request 1 is still streaming, not after it ended.
    _, address = fcgi()
    with Client(address) as c:
        c.send(request(1, {"SCRIPT_NAME": "/stream", "QUERY_STRING": "n=60000&delay=0.01"}, flags=KEEP_CONN))
        assert c.read_record()[:2] == (STDOUT, 1)
        c.send(begin(2, flags=KEEP_CONN) + params(2, {"SCRIPT_NAME": "/pid"}) + stream(STDIN, 2, b""))
        while True:
            rtype, rid, content = c.read_record()
            if rid == 2:
                break
            assert (rtype, rid) == (STDOUT, 1), "request 1 ended before request 2 was refused"
        assert rtype == END_REQUEST
        assert struct.unpack(">IB3x", content)[1] == CANT_MPX_CONN
        c.send(record(ABORT_REQUEST, 1))
        _, _, status = c.read_response(1)
        assert status == REQUEST_COMPLETE


def test_abort_request_ends_a_streamed_response_and_closes_the_iterable(fcgi, tmp_path):
    d, address = fcgi()
    marker = tmp_path / "closed"
    with Client(address) as c:
        # a stream of 10 minutes, if nothing stops it
        c.send(request(1, {"SCRIPT_NAME": "/stream", "QUERY_STRING": "n=60000&delay=0.01&marker=%s" % marker},
                       flags=KEEP_CONN))
        assert c.read_record()[:2] == (STDOUT, 1)
        c.send(record(ABORT_REQUEST, 1))
        # The spec: the application answers the abort with FCGI_END_REQUEST.
        # Records already on their way may come first.
        _, _, status = c.read_response(1)
        assert status == REQUEST_COMPLETE
    wait_until(marker.exists, 10, what="the iterable's close()")
    assert marker.read_text().startswith("closed after")
    # the worker is free again
    assert worker_pid(address) == int(d.ready_pids()[0])


def test_abort_before_the_params_end_is_answered(fcgi):
    _, address = fcgi()
    with Client(address) as c:
        c.send(begin(1, flags=KEEP_CONN) + record(PARAMS, 1, name_value("SCRIPT_NAME", "/pid")) +
               record(ABORT_REQUEST, 1))
        out, _, status = c.read_response(1)
        assert out == b"" and status == REQUEST_COMPLETE
        c.send(request(1, {"SCRIPT_NAME": "/pid"}, flags=KEEP_CONN))
        assert split_cgi_response(c.read_response(1)[0])[0] == 200


@pytest.mark.parametrize("request_id", [0, 1])
def test_unknown_record_type_is_answered_with_unknown_type(fcgi, request_id):
    _, address = fcgi()
    with Client(address) as c:
        c.send(record(42, request_id, b"whatever"))
        rtype, rid, content = c.read_record()
        assert (rtype, rid) == (UNKNOWN_TYPE, 0)
        assert content[0] == 42
        c.send(request(1, {"SCRIPT_NAME": "/pid"}))
        assert split_cgi_response(c.read_response(1)[0])[0] == 200


def test_records_for_inactive_request_ids_are_ignored(fcgi):
    # Specification 3.3: records of an inactive request id are ignored, only
    # FCGI_BEGIN_REQUEST starts one.
    _, address = fcgi()
    with Client(address) as c:
        c.send(record(PARAMS, 3, name_value("A", "b")) + record(STDIN, 3, b"x") + record(ABORT_REQUEST, 4) +
               request(1, {"SCRIPT_NAME": "/environ"}))
        out, _, status = c.read_response(1)
    env = json.loads(split_cgi_response(out)[2])
    assert status == REQUEST_COMPLETE and "A" not in env


@pytest.mark.parametrize("role", [AUTHORIZER, FILTER, 9])
def test_other_roles_get_unknown_role(fcgi, role):
    _, address = fcgi()
    with Client(address) as c:
        c.send(begin(1, role=role, flags=KEEP_CONN) + params(1, {"SCRIPT_NAME": "/pid"}) +
               stream(STDIN, 1, b"") + stream(DATA, 1, b""))
        out, _, status = c.read_response(1)
        assert (out, status) == (b"", UNKNOWN_ROLE)
        # the refused request's records were ignored; the connection goes on
        c.send(request(2, {"SCRIPT_NAME": "/pid"}))
        assert split_cgi_response(c.read_response(2)[0])[0] == 200


MALFORMED = {
    "bad version": (record(BEGIN_REQUEST, 1, struct.pack(">HB5x", RESPONDER, 0), version=2),
                    r"FastCGI record version 2 is not supported"),
    "short begin body": (record(BEGIN_REQUEST, 1, b"\0\1\0\0"),
                         r"FCGI_BEGIN_REQUEST with content length 4"),
    "params end inside a pair": (begin(1) + record(PARAMS, 1, b"\x05\x03ab") + record(PARAMS, 1, b""),
                                 r"FCGI_PARAMS stream ends inside a name-value pair"),
    "stdin before params end": (begin(1) + record(STDIN, 1, b"x"),
                                r"FCGI_STDIN before the end of FCGI_PARAMS"),
    "stdout from the web server": (begin(1) + record(STDOUT, 1, b"x"),
                                   r"FCGI_STDOUT record from the web server"),
    "begin for the active id": (begin(1) + begin(1), r"FCGI_BEGIN_REQUEST for request id 1, which is already active"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_input_closes_the_connection_and_the_worker_goes_on(fcgi, case):
    d, address = fcgi()
    pid = worker_pid(address)
    data, log = MALFORMED[case]
    with Client(address, timeout=10) as c:
        c.send(data)
        assert c.at_eof()
    d.wait_log(r"\[%d\] info: worker: fastcgi request from 127\.0\.0\.1 rejected: %s" % (pid, log))
    assert worker_pid(address) == pid


def test_truncated_input_then_hang_up_leaves_the_worker_serving(fcgi):
    d, address = fcgi()
    pid = worker_pid(address)
    for data in (record(BEGIN_REQUEST, 1, struct.pack(">HB5x", RESPONDER, 0))[:5],
                 begin(1) + record(PARAMS, 1, name_value("SCRIPT_NAME", "/pid"))[:11],
                 request(1, {"SCRIPT_NAME": "/echo"}, b"x" * 1000)[:-20]):
        with Client(address, timeout=10) as c:
            c.send(data)
            c.sock.shutdown(socket.SHUT_WR)
            # an error answer may come first (the third one reached the app,
            # whose body read failed); then the connection closes
            while c.sock.recv(65536):
                pass
    assert worker_pid(address) == pid
    assert d.live_worker_pids() == [pid]


def test_oversized_params_get_431(fcgi):
    _, address = fcgi()
    big = {"HTTP_X_BIG": "x" * (70 * 1024), "SCRIPT_NAME": "/pid"}
    with Client(address) as c:
        c.send(request(1, big))
        out, _, _ = c.read_response(1)
    assert split_cgi_response(out)[0] == 431


def test_unix_socket(fcgi):
    _, path = fcgi(unix=True)
    status, _, body = get(path, "/environ", "u=1")
    env = json.loads(body)
    assert status == 200 and env["QUERY_STRING"] == "u=1"


# ---------------------------------------------------------------- allowed_clients

def test_allowed_clients_closes_other_addresses_unserved(fcgi):
    d, address = fcgi(allowed=["127.0.0.2"])
    with Client(address, timeout=10) as c:
        try:
            c.send(request(1, {"SCRIPT_NAME": "/pid"}))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert c.at_eof()
    d.wait_log(r"connection from 127\.0\.0\.1 refused: not in allowed_clients")
    # the allowed address is served
    status, _, _ = get(address, "/pid", source="127.0.0.2")
    assert status == 200


# ---------------------------------------------------------------- cgi-fcgi (libfcgi)

def cgi_fcgi(address, method, path, query="", body=b""):
    env = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
           "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1"}
    p = subprocess.run(["cgi-fcgi", "-bind", "-connect", "%s:%d" % address], env=env, input=body,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    return split_cgi_response(p.stdout)


def test_cgi_fcgi(fcgi):
    d, address = fcgi(workers=2)
    status, _, body = cgi_fcgi(address, "GET", "/environ", "a=1&b=two")
    env = json.loads(body)
    assert status == 200
    assert (env["QUERY_STRING"], env["PATH_INFO"], env["SCRIPT_NAME"], env["REQUEST_METHOD"]) == (
        "a=1&b=two", "/environ", "", "GET")
    for size in (0, 64 * 1024, 8 * 1024 * 1024):
        data = os.urandom(size)
        status, headers, body = cgi_fcgi(address, "POST", "/echo", body=data)
        assert (status, headers["x-body-length"]) == (200, str(size))
        assert body == data
    status, _, body = cgi_fcgi(address, "GET", "/stream", "n=30&delay=0.001")
    assert body == b"".join(b"chunk %d\n" % i for i in range(30))
    status, _, body = cgi_fcgi(address, "GET", "/error")
    assert status == 500
    pids = set()
    for i in range(20):
        status, _, body = cgi_fcgi(address, "GET", "/pid", "i=%d" % i)
        assert status == 200
        pids.add(int(body))
    assert pids <= set(d.live_worker_pids())


def test_late_stdin_of_an_early_response_survives_parking(fcgi, tmp_path):
    # As above, but between the early response and the late STDIN the worker
    # turns busy with another connection, which parks this idle-looking kept
    # connection in the master: its late STDIN then reaches a worker with a
    # fresh codec, which must not take it for a protocol error.
    _, address = fcgi(workers=1)
    started = tmp_path / "started"
    with Client(address, timeout=10) as c:
        c.send(begin(1, flags=KEEP_CONN) + params(1, {"SCRIPT_NAME": "/pid", "REQUEST_METHOD": "POST",
                                                      "CONTENT_LENGTH": "5"}))
        out, _, status = c.read_response(1)
        assert split_cgi_response(out)[0] == 200
        with Client(address, timeout=10) as other:
            other.send(request(1, {"SCRIPT_NAME": "/sleep", "QUERY_STRING": "s=0.3&started=%s" % started}))
            wait_until(started.exists, 10, what="the other request to start")
            c.send(record(STDIN, 1, b"hello") + record(STDIN, 1, b"") +
                   request(1, {"SCRIPT_NAME": "/echo"}, b"second", flags=KEEP_CONN))
            other.read_response(1)
        out, _, status = c.read_response(1)
        assert split_cgi_response(out)[2] == b"second"
