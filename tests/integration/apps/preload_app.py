"""Counts its imports in the file named by $IMPORT_LOG (one pid per line)."""
import os

with open(os.environ["IMPORT_LOG"], "a") as f:
    f.write("%d\n" % os.getpid())

VERSION = "v1"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %d %d" % (VERSION, os.getpid(), os.getppid())).encode()]
