"""basic_app plus one path the metrics tests need: a request that stays busy
until the test releases it, so a test holds a worker busy for exactly as long
as it needs (no fixed sleeps)."""
import os
import time
from urllib.parse import parse_qs

from basic_app import application as basic_application


def application(environ, start_response):
    if environ["PATH_INFO"] == "/block":
        q = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        marker, release = q.get("marker"), q["release"]
        if marker:
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
        # Bounded, so a test that dies before releasing does not pin a worker.
        deadline = time.monotonic() + float(q.get("max", "60"))
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"released\n"]
    return basic_application(environ, start_response)
