"""The drill's application: every host serves it. `application` answers at
once with the host's name (FLEET_HOST, set by the drill), so the client can
tell which host served a request, except on /slow, which takes 0.1 s (a
request that is in flight long enough for a kill or a reload to find it).
`slow_application` takes 2 s over every request, as an app whose database
went slow would: the host's workers are all busy and its listen queue grows."""
import os
import time

HOST = os.environ.get("FLEET_HOST", "?").encode()
SLOW_PATH_SECONDS = 0.1
SLOW_APP_SECONDS = 2.0


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(SLOW_PATH_SECONDS)
    body = b"host " + HOST + b"\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def slow_application(environ, start_response):
    time.sleep(SLOW_APP_SECONDS)
    return application(environ, start_response)
