"""The benchmark harness of issue 13: drover against uWSGI, gunicorn and
mod_wsgi, interleaved rounds, medians and ratios. Entry point: bench/bench.py."""
