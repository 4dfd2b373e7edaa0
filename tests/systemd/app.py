"""The application the systemd test serves: who runs it, and a crash on demand."""
import os
import pwd


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/whoami":
        body = "%s %d\n" % (pwd.getpwuid(os.getuid()).pw_name, os.getpid())
    elif path == "/crash":
        os._exit(3)
    else:
        body = "hello from drover\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
