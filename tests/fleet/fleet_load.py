"""The drill's client load: a bounded pool of HTTP clients through a
balancer, counting every answer, failure and latency."""
import http.client
import random
import threading
import time
import urllib.parse

# ---------------------------------------------------------------- the client load

class Load:
    """`threads` clients, each on its own kept-alive connection to url (or a
    new connection per request, without keepalive), one GET at a time of
    each of `paths` in turn, at most `rate` a second each, for at most `duration`
    seconds (and `max_requests` in all): a bounded load. Every request is
    recorded: start (monotonic), latency, HTTP status (0 for a socket
    error), the host that answered."""

    def __init__(self, name, url, threads, rate, duration, paths=("/",), max_requests=200000, timeout=40,
                 keepalive=True):
        u = urllib.parse.urlsplit(url)
        self.name = name
        self.host, self.port = u.hostname, u.port
        self.paths = paths  # each thread goes through them in turn
        self.threads = threads
        self.interval = 1.0 / rate
        self.duration = duration
        self.max_requests = max_requests
        self.timeout = timeout
        self.headers = {} if keepalive else {"Connection": "close"}
        self.records = []  # (start, latency, status, host or error); list.append is atomic
        self._stop = threading.Event()
        self._workers = []
        self._budget = threading.Semaphore(max_requests)

    def start(self):
        self.deadline = time.monotonic() + self.duration
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def _run(self):
        conn = None
        turn = random.randrange(len(self.paths))
        next_at = time.monotonic() + random.random() * self.interval
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            if not self._budget.acquire(blocking=False):
                break
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            t0 = time.monotonic()
            try:
                path = self.paths[turn % len(self.paths)]
                turn += 1
                conn.request("GET", path, headers=self.headers)
                resp = conn.getresponse()
                body = resp.read()
                status, who = resp.status, body.decode(errors="replace").strip()
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status, who = 0, "%s: %s" % (type(e).__name__, e)
                conn.close()
                conn = None
            self.records.append((t0, time.monotonic() - t0, status, who))
            next_at = max(next_at + self.interval, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        if conn is not None:
            conn.close()

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(self.timeout + 5)
        assert not any(t.is_alive() for t in self._workers), "a client thread did not end"
        return self

    # ---- figures

    def failures(self):
        return [r for r in self.records if not 200 <= r[2] < 300]

    def summary(self):
        lat = [r[1] for r in self.records]
        return {"requests": len(self.records), "failed": len(self.failures()),
                "max_latency": max(lat) if lat else 0.0}

    def served_by(self, host, after=None, before=None):
        """Requests answered by host that started within (after, before)."""
        return [r for r in self.records if r[3] == "host " + host
                and (after is None or r[0] > after) and (before is None or r[0] < before)]
