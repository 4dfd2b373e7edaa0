#!/usr/bin/python3
"""Writes the seed corpus of the codec fuzz targets (tests/fuzz/corpus/<proto>/).

Each seed starts with the two control bytes fuzz_driver.hpp reads (when the
response is written, feed piece size), then a protocol stream.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def rec(rtype, rid, content, pad=None):
    pad = (8 - len(content) % 8) % 8 if pad is None else pad
    return struct.pack('>BBHHBB', 1, rtype, rid, len(content), pad, 0) + content + b'\0' * pad


def length(n):
    return bytes([n]) if n < 128 else struct.pack('>I', n | 0x80000000)


def nv(name, value):
    return length(len(name)) + length(len(value)) + name + value


def begin(rid, role=1, flags=1):
    return rec(1, rid, struct.pack('>HB5x', role, flags))


def post(rid, body, flags=1, method=b'POST'):
    params = nv(b'REQUEST_METHOD', method) + nv(b'CONTENT_LENGTH', str(len(body)).encode()) + nv(b'SCRIPT_NAME', b'/app')
    out = begin(rid, 1, flags) + rec(4, rid, params[:7]) + rec(4, rid, params[7:]) + rec(4, rid, b'')
    if body:
        out += rec(5, rid, body)
    return out + rec(5, rid, b'')


FASTCGI = {
    'post': post(1, b'hello world'),
    'get_no_length': begin(1) + rec(4, 1, nv(b'REQUEST_METHOD', b'GET') + nv(b'CONTENT_LENGTH', b''))
    + rec(4, 1, b'') + rec(5, 1, b''),
    'two_requests': post(1, b'a') + post(1, b'bb', 0),
    'get_values': rec(9, 0, nv(b'FCGI_MAX_CONNS', b'') + nv(b'FCGI_MAX_REQS', b'') + nv(b'FCGI_MPXS_CONNS', b'')),
    'cant_mpx': begin(1) + begin(2) + post(2, b'x')[16:] + rec(4, 1, b'') + rec(5, 1, b'z') + rec(5, 1, b''),
    'unknown_role': begin(3, 2) + rec(4, 3, b'') + post(4, b'ok'),
    'unknown_type': rec(42, 0, b'abc') + rec(77, 5, b''),
    'abort': begin(1) + rec(4, 1, b'') + rec(2, 1, b''),
    'head': post(1, b'', 1, b'HEAD'),
    'long_names': begin(1) + rec(4, 1, nv(b'N' * 200, b'v' * 300)) + rec(4, 1, b'') + rec(5, 1, b'q' * 1000)
    + rec(5, 1, b''),
}


def scgi(headers, body=b''):
    return str(len(headers)).encode() + b':' + headers + b',' + body


SCGI = {
    'spec': scgi(b'CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00',
                 b'What is the answer to life?'),
    'empty_body': scgi(b'CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00HEAD\x00'),
    'trailing': scgi(b'CONTENT_LENGTH\x003\x00SCGI\x001\x00', b'abcEXTRA'),
}

HTTP = {
    'get': b'GET /path?q=1 HTTP/1.1\r\nHost: example\r\n\r\n',
    'post': b'POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    'chunked': b'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'pipelined': b'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'http10': b'HEAD / HTTP/1.0\r\n\r\n',
    'expect': b'PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
    # RFC 9112 rules on top of llhttp (issue 10): near misses of each, so the
    # fuzzer starts at the edges.
    'chunk_ext_trailer': b'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
                         b'3;a=b\r\nabc\r\n1;q="x y"\r\nd\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'chunk_bad_crlf': b'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n',
    'chunk_last_lf': b'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nGET / HTTP/1.1\r\n\r\n',
    'bare_lf': b'GET / HTTP/1.1\nHost: x\n\n',
    'bare_cr': b'GET / HTTP/1.1\r\nHost: x\rX: 1\r\n\r\n',
    'obs_fold': b'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n',
    'http2': b'GET / HTTP/2.0\r\nHost: x\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    'options_star': b'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET * HTTP/1.1\r\nHost: x\r\n\r\n',
    'absolute': b'GET http://h.example:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n'
                b'GET https://u@h/ HTTP/1.1\r\nHost: x\r\n\r\n',
    'te_http10': b'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'te_gzip_chunked': b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    'cl_te': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'cl_twice': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
    'singletons': b'GET / HTTP/1.1\r\nHost: x\r\nContent-Type: a\r\nContent-Type: b\r\nHost: y\r\n\r\n',
    'ows': b'GET / HTTP/1.1\r\nHost:x\r\nX-A: \t a \t\r\nX-B:\r\nCookie: a=1\r\ncookie: b=2\r\n\r\n',
    'spaces': b'GET  / HTTP/1.1\r\nHost: x\r\n\r\nGET /  HTTP/1.1\r\n\r\n',
    'methods': b'FOO / HTTP/1.1\r\nHost: x\r\n\r\nM-SEARCH / HTTP/1.1\r\nHost: x\r\n\r\n',
    'upgrade': b'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\n\r\n',
    'leading_crlf': b'\r\n\r\nGET / HTTP/1.1\r\nHost: [::1]:8\r\nConnection: keep-alive\r\n\r\n',
    # What the fuzzer found, kept as seeds: no version and an absolute-form
    # target without a path; a bare CR llhttp skipped before its own error;
    # spaces before a target llhttp refused mid-span.
    'found_no_version': b'GET http://h.ex)ampl\r\n\r\n',
    'found_bare_cr_first': b'\r\r\n%) \n',
    'found_spaces': b'POST   H\xa0',
}

# respond in on_request / on_body_end / after feed; whole, 1-byte and 7-byte pieces
PREFIXES = [b'\x00\x00', b'\x01\x01', b'\x0a\x07']

for proto, seeds in (('fastcgi', FASTCGI), ('scgi', SCGI), ('http', HTTP)):
    directory = os.path.join(HERE, 'corpus', proto)
    os.makedirs(directory, exist_ok=True)
    for name, stream in seeds.items():
        for k, prefix in enumerate(PREFIXES):
            with open(os.path.join(directory, f'{name}-{k}'), 'wb') as f:
                f.write(prefix + stream)
