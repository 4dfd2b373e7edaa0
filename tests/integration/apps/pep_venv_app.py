"""Imports a module that exists only in the test's virtualenv."""
import sys

import only_in_venv


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s\n%s" % (sys.prefix, only_in_venv.WHERE)).encode()]
