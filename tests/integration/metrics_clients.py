"""Minimal FastCGI, SCGI and HTTP clients for the metrics tests: one request
each, the answer parsed into (status, headers, body)."""
import socket
import struct

import requests

# ---------------------------------------------------------------- FastCGI and SCGI clients

def _connect(address):
    if isinstance(address, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(address)
        return s
    return socket.create_connection(address, timeout=10)


def _recv_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def _cgi_params(method, path, query, body):
    return [("CONTENT_LENGTH", str(len(body))), ("REQUEST_METHOD", method),
            ("REQUEST_URI", path + ("?" + query if query else "")), ("SCRIPT_NAME", ""), ("PATH_INFO", path),
            ("QUERY_STRING", query), ("SERVER_NAME", "localhost"), ("SERVER_PORT", "80"),
            ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "127.0.0.1"), ("REMOTE_PORT", "40000"),
            ("CONTENT_TYPE", "application/octet-stream"), ("HTTP_HOST", "localhost")]


def _cgi_response(raw):
    """(status, body) of a CGI-style answer: 'Status: 404 Not Found' header, blank line, body."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, raw[:200]
    status = 200
    for line in head.split(b"\r\n"):
        name, _, v = line.partition(b":")
        if name.strip().lower() == b"status":
            status = int(v.split()[0])
    return status, body


def _fcgi_record(rtype, content, request_id=1):
    return struct.pack("!BBHHBx", 1, rtype, request_id, len(content), 0) + content


def _fcgi_length(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def fastcgi_request(address, method="GET", path="/", query="", body=b""):
    """One FastCGI responder request (no FCGI_KEEP_CONN); returns (status, body)."""
    params = b"".join(_fcgi_length(len(k)) + _fcgi_length(len(v.encode())) + k.encode() + v.encode()
                      for k, v in _cgi_params(method, path, query, body))
    out = _fcgi_record(1, struct.pack("!HB5x", 1, 0))  # BEGIN_REQUEST, role responder
    for i in range(0, len(params), 65535):
        out += _fcgi_record(4, params[i:i + 65535])
    out += _fcgi_record(4, b"")
    for i in range(0, len(body), 65535):
        out += _fcgi_record(5, body[i:i + 65535])
    out += _fcgi_record(5, b"")
    with _connect(address) as s:
        s.sendall(out)
        data = _recv_all(s)
    stdout, pos, ended = b"", 0, False
    while pos + 8 <= len(data):
        _, rtype, _, length, padding = struct.unpack("!BBHHB", data[pos:pos + 7])
        content = data[pos + 8:pos + 8 + length]
        pos += 8 + length + padding
        if rtype == 6:
            stdout += content
        elif rtype == 3:
            ended = True
            break
    assert ended, "no FCGI_END_REQUEST in %r" % data[:300]
    return _cgi_response(stdout)


def scgi_request(address, method="GET", path="/", query="", body=b""):
    """One SCGI request; returns (status, body)."""
    headers = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                       for k, v in _cgi_params(method, path, query, body) + [("SCGI", "1")])
    with _connect(address) as s:
        s.sendall(b"%d:%s," % (len(headers), headers) + body)
        return _cgi_response(_recv_all(s))


def http_request(port, method="GET", path="/", query="", body=b""):
    target = "http://127.0.0.1:%d%s" % (port, path + ("?" + query if query else ""))
    r = requests.request(method, target, data=body or None, timeout=10)
    return r.status_code, r.content


