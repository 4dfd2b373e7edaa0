"""basic_app plus two paths that play a worker gone bad (issue 9, defect 7):
application code that overwrites the shared scoreboard, header and every
slot, as a buggy C extension or a hostile app could.

The scoreboard is the worker's only shared anonymous mapping ("rw-s",
/dev/zero (deleted) in /proc/self/maps: Boost's anonymous_shared_memory is
mmap(MAP_SHARED | MAP_ANONYMOUS)). Writes go through /proc/self/mem, so the
app needs no ctypes and writes exactly the bytes it means to.

  /scoreboard            JSON: the candidate mappings and whether the first
                         one starts with the scoreboard's magic
  /scribble?mode=M&seed=N  overwrite the whole mapping: M is random (bytes
                         from seed N), zero, ones (0xff) or states (every
                         32-bit word 0xdeadbeef: state words, counts, slot_count)
"""
import json
import random
import struct
from urllib.parse import parse_qs

from basic_app import application as basic_application

MAGIC = struct.pack("<Q", 0x64726F7665720001)


def shared_mappings():
    found = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[1] == "rw-s" and "zero" in fields[5]:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                found.append((start, end))
    return found


def read_mem(address, size):
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        mem.seek(address)
        return mem.read(size)


def write_mem(address, data):
    with open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(address)
        mem.write(data)


def garbage(mode, size, seed):
    if mode == "random":
        return random.Random(seed).randbytes(size)
    if mode == "zero":
        return bytes(size)
    if mode == "ones":
        return b"\xff" * size
    if mode == "states":
        return struct.pack("<I", 0xDEADBEEF) * (size // 4) + b"\xef" * (size % 4)
    raise ValueError(mode)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/scoreboard":
        maps = shared_mappings()
        magic = bool(maps) and read_mem(maps[0][0], 8) == MAGIC
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"mappings": [[s, e] for s, e in maps], "magic": magic}).encode()]
    if path == "/scribble":
        written = 0
        for start, end in shared_mappings():
            write_mem(start, garbage(q.get("mode", "random"), end - start, int(q.get("seed", "1"))))
            written += end - start
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"scribbled %d bytes\n" % written]
    return basic_application(environ, start_response)
