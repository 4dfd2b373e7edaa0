"""The nginx.conf every test's own nginx runs with: everything (pid, logs,
temp paths) under its directory d, one worker process, and the site in
d/site.conf."""
import os


def write_nginx_conf(d, log_level="info", worker_connections=512):
    """Makes d's temp directories and writes d/nginx.conf."""
    for sub in ("client_body", "fastcgi", "scgi", "uwsgi", "proxy"):
        (d / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # As root, nginx's workers would switch to nobody and could not use the
    # temp paths under a test's directory (pytest's are 0700).
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (d / "nginx.conf").write_text(
        "%(user)sworker_processes 1;\n"
        "pid %(d)s/nginx.pid;\n"
        "error_log %(d)s/error.log %(level)s;\n"
        "events { worker_connections %(conns)d; }\n"
        "http {\n"
        "    access_log %(d)s/access.log;\n"
        "    client_body_temp_path %(d)s/tmp/client_body;\n"
        "    fastcgi_temp_path %(d)s/tmp/fastcgi;\n"
        "    scgi_temp_path %(d)s/tmp/scgi;\n"
        "    uwsgi_temp_path %(d)s/tmp/uwsgi;\n"
        "    proxy_temp_path %(d)s/tmp/proxy;\n"
        "    include %(d)s/site.conf;\n"
        "}\n" % {"user": user, "d": d, "level": log_level, "conns": worker_connections})
