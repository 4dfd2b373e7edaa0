"""A bounded client load, run inside the container: THREADS threads send GET
requests to each URL in turn, one every 10 ms, for SECONDS seconds (and at
most MAX requests each), and the outcome is printed as JSON: every request
that did not get a 200 is a failure, with its error; "seconds" is how long
the load really lasted, so a test knows it spanned what it did meanwhile."""
import json
import sys
import threading
import time
import urllib.request


def main():
    seconds, threads, max_requests = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    urls = sys.argv[4:]
    lock = threading.Lock()
    result = {"ok": 0, "failed": 0, "errors": []}
    start = time.monotonic()
    deadline = start + seconds

    def client(n):
        for i in range(max_requests):
            if time.monotonic() > deadline:
                return
            url = urls[(i + n) % len(urls)]
            try:
                with urllib.request.urlopen(url, timeout=60) as r:
                    r.read()
                    ok = r.status == 200
                    error = "" if ok else "status %d" % r.status
            except Exception as e:  # noqa: BLE001 - every failure counts
                ok, error = False, "%s: %s" % (url, e)
            time.sleep(0.01)
            with lock:
                if ok:
                    result["ok"] += 1
                else:
                    result["failed"] += 1
                    if len(result["errors"]) < 20:
                        result["errors"].append(error)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    result["seconds"] = round(time.monotonic() - start, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
