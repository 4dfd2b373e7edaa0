"""A preloaded app that starts a thread at import which keeps taking the C
allocator's lock without the GIL (through ctypes), as a C extension's
background thread would. A worker forked without glibc's fork handlers
inherits that lock held, and hangs at its first malloc."""
import ctypes
import os
import threading

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


_libc.mallinfo2.restype = _Mallinfo2


def _hold_the_allocator():
    # Many free chunks make mallinfo2() walk the bins for a while, holding
    # the arena's lock; the GIL is released around each ctypes call.
    blocks = [_libc.malloc(48) for _ in range(50000)]
    for p in blocks[::2]:
        _libc.free(p)
    while True:
        _libc.mallinfo2()


threading.Thread(target=_hold_the_allocator, daemon=True).start()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%d" % os.getpid()]
