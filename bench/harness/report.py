"""From the raw rounds to figures: medians and min..max over rounds,
drover/peer ratios (the median of the per-round ratios: each round's
entries of a row ran back to back, so a ratio pairs runs that saw the
same load on the machine), the issue's targets, the table, RESULTS.md and
the chart."""
import statistics
from collections import defaultdict
from pathlib import Path

from . import rows as rowsmod

METRICS = {
    "rps": ("req/s", "wrk -c32 requests per second", 0),
    "p99_ms": ("p99 ms", "wrk -c32 99th percentile latency", 2),
    "cpu_us": ("CPU µs/req", "backend CPU per request (master + workers) under wrk -c32", 1),
    "master_us": ("master µs/req", "the master's part of it", 2),
    "ab_ms": ("ab -c1 ms", "ab -c1 mean time per request", 3),
    "added_ms": ("added ms", "ab -c1 time minus the frontend answering by itself", 3),
}

# The harness's reading of "the master's CPU per request near zero".
MASTER_NEAR_ZERO_US = 1.0
# uWSGI's best configuration for the kept rows is the fastest one whose p99
# stays under this: uWSGI's --http11-socket behind a kept nginx pool pins a
# worker to each idle connection, so some requests wait a second or more
# (p99 over 1 s) while the others fly; no one would deploy that.
BEST_P99_LIMIT_MS = 100.0


class Data:
    def __init__(self, data):
        self.raw = data
        self.info = data["info"]
        self.rows = {r.id: r for r in rowsmod.all_rows() if r.id in self.info["rows"]}
        self.entries = {e.key: e for r in self.rows.values() for e in r.entries}
        self.rounds = defaultdict(dict)  # round -> key -> rec
        self.errors = defaultdict(list)
        for rec in data["results"]:
            if "error" in rec:
                self.errors[rec["key"]].append(rec["error"])
                continue
            self.rounds[rec["round"]][rec["key"]] = rec
        for rnd, recs in self.rounds.items():
            for key, rec in recs.items():
                e = self.entries.get(key)
                base = recs.get(e.row.baseline) if e is not None and e.row.baseline else None
                if base is not None and rec.get("ab_ms") is not None:
                    rec["added_ms"] = rec["ab_ms"] - base["ab_ms"]
        self.syscalls = data.get("syscalls", {})

    def series(self, key, metric):
        return [recs[key][metric] for _, recs in sorted(self.rounds.items())
                if key in recs and recs[key].get(metric) is not None]

    def stat(self, key, metric):
        return stat(self.series(key, metric))

    def ratios(self, a, b, metric):
        """Per-round a/b for the rounds where both ran."""
        out = []
        for _, recs in sorted(self.rounds.items()):
            if a in recs and b in recs:
                x, y = recs[a].get(metric), recs[b].get(metric)
                if x is not None and y not in (None, 0):
                    out.append(x / y)
        return out

    def uwsgi_best(self, transport, p99_limit=BEST_P99_LIMIT_MS):
        """Per round: uWSGI's best throughput over its configurations through
        nginx on `transport` (hello app) whose p99 stays within p99_limit
        (None: all of them), and which configuration it was."""
        keys = [k for k, e in self.entries.items() if e.server == "uwsgi" and e.frontend == "nginx"
                and e.transport == transport and e.app == "hello"]
        best = {}
        for rnd, recs in sorted(self.rounds.items()):
            have = [(recs[k]["rps"], k) for k in keys if k in recs
                    and (p99_limit is None or (recs[k].get("p99_ms") or 0) <= p99_limit)]
            if have:
                best[rnd] = max(have)
        return best

    def best_ratios(self, key, transport, p99_limit=BEST_P99_LIMIT_MS):
        best = self.uwsgi_best(transport, p99_limit)
        out = []
        for rnd, (rps, _) in best.items():
            if key in self.rounds[rnd]:
                out.append(self.rounds[rnd][key]["rps"] / rps)
        return out, [k for _, k in best.values()]

    def drover_peer_pairs(self, row):
        drovers = [e for e in row.entries if e.is_drover]
        peers = [e for e in row.entries if not e.is_drover]
        return [(d, p) for d in drovers for p in peers]


def stat(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return (statistics.median(xs), min(xs), max(xs), len(xs))


def fnum(v, digits):
    if v is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(v).replace(",", " ")
    return "%.*f" % (digits, v)


def fstat(s, digits, spread=True):
    if s is None:
        return "-"
    if not spread or s[3] < 2:
        return fnum(s[0], digits)
    return "%s (%s..%s)" % (fnum(s[0], digits), fnum(s[1], digits), fnum(s[2], digits))


def fratio(xs, spread=True):
    s = stat(xs)
    if s is None:
        return "-"
    if not spread or s[3] < 2:
        return "%.2fx" % s[0]
    return "%.2fx (%.2f..%.2f)" % s[:3]


# ---------------------------------------------------------------- targets

def targets(d):
    """The issue's targets, each: what, row, measured, threshold, met."""
    out = []

    def add(what, row, xs, op, threshold, unit="x", note=""):
        s = stat(xs)
        if s is None:
            return
        met = s[0] <= threshold if op == "<=" else s[0] >= threshold if op == ">=" else s[0] < threshold
        val = ("%.2fx" % s[0]) if unit == "x" else ("%.2f %s" % (s[0], unit))
        rng = ("%.2f..%.2f" % s[1:3]) if s[3] > 1 else ""
        out.append({"target": what, "row": row, "measured": val, "range": rng,
                    "threshold": "%s %s%s" % (op, threshold, "x" if unit == "x" else " " + unit),
                    "met": met, "note": note})

    for rid, row in d.rows.items():
        if row.group == "per-request":
            dk, uk = rid + "/drover", rid + "/uwsgi"
            add("backend CPU/req vs uWSGI (aim 0.5x)", rid, d.ratios(dk, uk, "cpu_us"), "<=", 0.7)
            add("wrk -c32 req/s vs uWSGI", rid, d.ratios(dk, uk, "rps"), ">=", 1.2)
            add("ab -c1 added time vs uWSGI", rid, d.ratios(dk, uk, "added_ms"), "<=", 0.8)
            add("master CPU/req near zero", rid, d.series(dk, "master_us"), "<=", MASTER_NEAR_ZERO_US, "µs")
        elif row.group == "kept":
            tr = rid.rsplit("-", 1)[1]
            for e in row.entries:
                if e.is_drover:
                    xs, which = d.best_ratios(e.key, tr)
                    common = max(set(which), key=which.count).split("/")[-1] if which else "?"
                    note = "best uWSGI (p99 <= %g ms): %s" % (BEST_P99_LIMIT_MS, common)
                    xs_all, which_all = d.best_ratios(e.key, tr, None)
                    if which_all != which and xs_all:
                        c = max(set(which_all), key=which_all.count).split("/")[-1]
                        note += "; against any p99 (%s): %.2fx" % (c, stat(xs_all)[0])
                    add("req/s vs uWSGI's best config over %s" % tr.upper(), e.key, xs, ">=", 1.5, note=note)
        elif rid == "direct-http":
            add("req/s vs uWSGI --http-socket", rid, d.ratios(rid + "/drover", rid + "/uwsgi", "rps"), ">=", 2.0)
            add("p99 vs uWSGI --http-socket", rid, d.ratios(rid + "/drover", rid + "/uwsgi", "p99_ms"), "<=", 1.0)
        elif row.group == "post":
            add("64 KiB POST time (ab -c1) vs uWSGI", rid, d.ratios(rid + "/drover", rid + "/uwsgi", "ab_ms"),
                "<=", 0.8)
        elif rid == "memory-hello":
            add("RSS, master + workers, vs uWSGI", rid, d.ratios(rid + "/drover", rid + "/uwsgi", "rss_kib"),
                "<", 1.0)
        elif rid == "memory-django":
            add("PSS of a preloaded Django pool vs uWSGI (no --lazy-apps)", rid,
                d.ratios(rid + "/drover", rid + "/uwsgi", "pss_kib"), "<", 1.0)
    return out


# ---------------------------------------------------------------- text

def load_columns():
    return ["rps", "p99_ms", "cpu_us", "master_us", "ab_ms", "added_ms"]


def render_text(data):
    d = Data(data) if not isinstance(data, Data) else data
    lines = []
    for rid, row in d.rows.items():
        lines.append("== %s: %s" % (rid, row.title))
        if row.kind == "memory":
            lines.append("   %-52s %22s %22s %5s" % ("", "RSS MiB", "PSS MiB", "procs"))
            for e in row.entries:
                rss = stat([x / 1024 for x in d.series(e.key, "rss_kib")])
                pss = stat([x / 1024 for x in d.series(e.key, "pss_kib")])
                n = stat(d.series(e.key, "processes"))
                lines.append("   %-52s %22s %22s %5s" % (e.label[:52], fstat(rss, 1), fstat(pss, 1),
                                                          fnum(n[0], 0) if n else "-"))
        else:
            cols = load_columns()
            lines.append("   %-40s" % "" + "".join("%24s" % METRICS[c][0] for c in cols) + "   sys/req")
            for e in row.entries:
                sc = d.syscalls.get(e.key, {})
                sys_ = "%.1f" % sc["workers_per_req"] if "workers_per_req" in sc else "-"
                lines.append("   %-40s" % e.label[:40]
                             + "".join("%24s" % fstat(d.stat(e.key, c), METRICS[c][2]) for c in cols)
                             + "   %s" % sys_)
        for dk, pk in d.drover_peer_pairs(row):
            if row.kind == "memory":
                lines.append("   %s / %s: RSS %s, PSS %s" % (
                    dk.label, pk.label, fratio(d.ratios(dk.key, pk.key, "rss_kib")),
                    fratio(d.ratios(dk.key, pk.key, "pss_kib"))))
            else:
                lines.append("   %s / %s: req/s %s, CPU/req %s, ab %s, added %s, p99 %s" % (
                    dk.label, pk.label, *(fratio(d.ratios(dk.key, pk.key, m), False)
                                          for m in ("rps", "cpu_us", "ab_ms", "added_ms", "p99_ms"))))
        for k in [e.key for e in row.entries if d.errors.get(e.key)]:
            lines.append("   %s: %d failed run(s): %s" % (k, len(d.errors[k]), d.errors[k][0].splitlines()[0][:200]))
        lines.append("")
    lines.append("== targets (issue 13)")
    for t in targets(d):
        lines.append("   %-7s %-48s %-30s %-10s %-14s %s" % ("MET" if t["met"] else "missed", t["target"], t["row"],
                                                          t["measured"], t["threshold"], t["note"]))
    return "\n".join(lines)


# ---------------------------------------------------------------- markdown

def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def is_validation(d):
    s = d.info["settings"]
    return s.get("quick") or s.get("rounds", 0) < 3


def write_markdown(data, path, svg_name, saved):
    d = Data(data)
    info, s, m, v = d.info, d.info["settings"], d.info["machine"], d.info["versions"]
    L = ["# drover benchmark results (issue 13)", ""]
    if is_validation(d):
        L += ["> **Validation run, not a measurement.** %s on a machine shared with other builds and test suites "
              "(load average %s before the run): these figures only show that the harness runs end to end. "
              "The real figures come from a default run (`make bench`, %d rounds) on a quiet machine."
              % ("`BENCH_QUICK=1`, %d round(s) of %gs" % (s["rounds"], s["duration"]),
                 ", ".join("%.2f" % x for x in info["loadavg_before"] or []), 5), ""]
    L += ["Produced by `%s` (bench/bench.py); started %s, took %.0f min. Raw rounds: `%s` (not committed: "
          "`bench/bench.py report FILE` writes this page and the chart again from it)."
          % (info["command"], info["started"], info["elapsed_s"] / 60, Path(saved).name), ""]
    L += ["![CPU per request and throughput, drover against each peer](%s)" % svg_name, ""]

    L += ["## Machine and versions", ""]
    la = lambda x: ", ".join("%.2f" % y for y in x) if x else "?"  # noqa: E731
    L += [md_table(["", ""], [
        ["CPU", "%s, %s cores (%s)" % (m["cpu"], m["cores"], m["virtualization"])],
        ["kernel", m["kernel"]], ["memory", m["memory"]], ["Debian", m["debian"]],
        ["load average (1, 5, 15 min) before / after", "%s / %s" % (la(info["loadavg_before"]),
                                                                   la(info.get("loadavg_after")))],
    ] + [[k, "`%s`" % val] for k, val in v.items()]), ""]
    L += ["Settings: %d round(s); each entry of each row, in each round, is a fresh start of its servers "
          "(%d workers, hello-world app `bench/apps/hello.py`, or `bench/apps/echo.py` for the POST), a %gs "
          "`wrk` warm-up, `wrk -t2 -c%d -d%gs --latency`, then `ab -c1 -n%d`. Rounds are interleaved: a round "
          "runs every row once, a row's entries back to back, in the opposite order every other round. "
          "Figures are the median (min..max) over rounds; ratios are the median (min..max) of the per-round "
          "ratios. Environment: `%s`."
          % (s["rounds"], s["workers"], s["warmup"], s["connections"], s["duration"], s["ab_requests"],
             " ".join("%s=%s" % kv for kv in sorted(info["environment"].items())) or "(defaults)"), ""]

    L += ["## Targets", "",
          "The targets of issue 13, each a ratio of medians measured side by side in this run.", ""]
    rows_t = [["met" if t["met"] else "**missed**", t["target"], "`%s`" % t["row"], t["measured"],
               t["range"], t["threshold"], t["note"]] for t in targets(d)]
    L += [md_table(["", "target", "row", "measured", "min..max", "target", ""], rows_t), ""]

    L += ["## Results", ""]
    for rid, row in d.rows.items():
        L += ["### `%s`: %s" % (rid, row.title), ""]
        if row.kind == "memory":
            L += [md_table(["", "RSS MiB", "PSS MiB", "processes"], [
                [e.label, fstat(stat([x / 1024 for x in d.series(e.key, "rss_kib")]), 1),
                 fstat(stat([x / 1024 for x in d.series(e.key, "pss_kib")]), 1),
                 fnum((stat(d.series(e.key, "processes")) or [None])[0], 0)] for e in row.entries]), ""]
        else:
            cols = load_columns()
            body = []
            for e in row.entries:
                sc = d.syscalls.get(e.key, {})
                sysw = "%.1f" % sc["workers_per_req"] if "workers_per_req" in sc else "-"
                sysm = "%.2f" % sc["master_per_req"] if sc.get("master_per_req") is not None else "-"
                body.append([e.label] + [fstat(d.stat(e.key, c), METRICS[c][2]) for c in cols]
                            + ["%s / %s" % (sysw, sysm)])
            L += [md_table([""] + [METRICS[c][0] for c in cols] + ["syscalls/req workers / master"], body), ""]
        pairs = d.drover_peer_pairs(row)
        if pairs:
            if row.kind == "memory":
                L += [md_table(["drover / peer", "RSS", "PSS"], [
                    ["%s / %s" % (a.label, b.label), fratio(d.ratios(a.key, b.key, "rss_kib")),
                     fratio(d.ratios(a.key, b.key, "pss_kib"))] for a, b in pairs]), ""]
            else:
                L += [md_table(["drover / peer", "req/s", "CPU/req", "ab -c1", "added", "p99"], [
                    ["%s / %s" % (a.label, b.label)] + [fratio(d.ratios(a.key, b.key, mm))
                                                         for mm in ("rps", "cpu_us", "ab_ms", "added_ms", "p99_ms")]
                    for a, b in pairs]), ""]
        errs = [(e.key, d.errors[e.key]) for e in row.entries if d.errors.get(e.key)]
        for k, es in errs:
            L += ["- `%s`: %d run(s) failed: `%s`" % (k, len(es), es[0].splitlines()[0][:200])]
        warn = []
        for e in row.entries:
            for rnd, recs in sorted(d.rounds.items()):
                r = recs.get(e.key)
                if not r or "rps" not in r:
                    continue
                se = sum(r.get("socket_errors", {}).values())
                if r.get("non2xx") or r.get("ab_failed") or r.get("ab_non2xx") or r.get("pids_changed"):
                    warn.append("`%s` round %d: wrk non-2xx %d, ab failed %d, ab non-2xx %d%s" % (
                        e.key, rnd + 1, r.get("non2xx", 0), r.get("ab_failed", 0), r.get("ab_non2xx", 0),
                        ", processes changed during the load" if r.get("pids_changed") else ""))
                elif se:
                    warn.append("`%s` round %d: wrk socket errors %s" % (e.key, rnd + 1, r["socket_errors"]))
                if r.get("drover_exit") is not None:
                    warn.append("`%s` round %d: drover exited with status %s after SIGTERM" % (
                        e.key, rnd + 1, r["drover_exit"]))
        if warn:
            L += ["- " + w for w in warn[:12]] + ([" - ... %d more" % (len(warn) - 12)] if len(warn) > 12 else [])
        if errs or warn:
            L += [""]

    if d.syscalls:
        L += ["## Syscalls per request", ""]
        any_sc = next((x for x in d.syscalls.values() if "tool" in x), None)
        if any_sc:
            L += ["A separate pass after the rounds, not timed: for each entry, a fresh start, a 1 s warm-up, "
                  "then a counter attached to the workers (and another to the master) while `ab -c%d -n%d` "
                  "runs; counts divided by ab's completed requests. The counter:"
                  % (any_sc["concurrency"], d.info["settings"]["syscall_requests"]), "",
                  "```", any_sc.get("command", any_sc["tool"]), "```", "",
                  "The busiest syscalls per request (`(other)`: every syscall not named in the list):", ""]
        body = []
        for key, sc in d.syscalls.items():
            if "error" in sc:
                body.append(["`%s`" % key, "failed", "", "", ""])
                continue
            top = ", ".join("%s %.2f" % kv for kv in list(sc["workers"].items())[:8])
            mtop = ", ".join("%s %.2f" % kv for kv in list(sc["master"].items())[:5]) if sc["master"] else "-"
            body.append(["`%s`" % key, "%.1f" % sc["workers_per_req"],
                         "-" if sc["master_per_req"] is None else "%.2f" % sc["master_per_req"], top, mtop])
        L += [md_table(["entry", "workers", "master", "workers: per request", "master: per request"], body), ""]

    L += ["## How each figure is measured", "",
          "- **req/s, p99**: `wrk -t2 -c%d -d%gs --latency URL` (the 64 KiB POST rows add `-s post64k.lua`, which "
          "sets the method and a 65 536-byte body). Straight at the server wrk keeps its connections alive; "
          "through a frontend the frontend does what the row says upstream." % (s["connections"], s["duration"]),
          "- **CPU µs/req**: utime + stime from `/proc/PID/stat` of the backend's master and every worker "
          "(the zygote too, with `--preload`) just before and after the wrk run, divided by wrk's request "
          "count. `master µs/req` is the master's own share. For mod_wsgi the backend is its two daemon "
          "processes (Apache's own processes are the frontend, as nginx is for the other rows). Clock ticks "
          "are 10 ms: over a run of tens of thousands of requests that resolves well under 1 µs/req.",
          "- **ab -c1 ms**: `ab -c1 -n%d` mean time per request, one request at a time (no `-k` through a "
          "frontend; `-k` on the direct and POST-direct rows, whose clients keep connections; the POST rows "
          "add `-p` with the 64 KiB body)." % s["ab_requests"],
          "- **added ms**: the time a backend adds behind its frontend: the row's ab -c1 time minus, in the same "
          "round, ab -c1 to the same frontend answering by itself (nginx `location = /static { return 200 "
          "\"Hello, world!\"; }`; Apache, a 13-byte static file). For the direct rows the subtrahend is nginx's "
          "own answer with a keep-alive client (`ab -k`): what a trivial HTTP server costs on this loopback. "
          "The POST rows report their time, not an added time.",
          "- **syscalls/req**: see above; counted in a separate pass because a tracer changes the timing.",
          "- **wrk socket errors** on uWSGI `--http-socket` with keep-alive clients are expected: it closes "
          "every connection after its answer, and wrk counts each close as a read error before it reconnects.",
          "- **memory**: Rss and Pss from `/proc/PID/smaps_rollup`, summed over the master and all its "
          "descendants, after 400 hello requests (`ab -c2`) or 40 Django admin login pages.",
          "- **uWSGI's best configuration** (kept rows): in each round, the highest req/s of any uWSGI entry "
          "through nginx on the same transport (http-socket, http11-socket with a kept pool, fastcgi-socket "
          "with or without keep_conn, scgi-socket, uwsgi-socket) whose p99 is at most %g ms: uWSGI's "
          "http11-socket behind a kept pool pins a worker to each idle connection, and some requests wait "
          "a second or more. The targets table also gives the ratio against the fastest at any p99."
          % BEST_P99_LIMIT_MS,
          "- nginx runs one worker process, with `access_log off` and body/response buffers that keep a "
          "64 KiB exchange in memory; a kept row's upstream pool is `keepalive %d`. Apache is one event-MPM "
          "child of 64 threads; mod_proxy_fcgi and mod_proxy_scgi open a connection per request (their "
          "default), mod_proxy_http keeps a pool (its default); mod_wsgi runs `processes=%d threads=1`."
          % (32, s["workers"]), ""]

    tried = Path(__file__).resolve().parent.parent / "TRIED.md"
    if tried.exists():
        L += ["## What was tried", "", "(kept by hand in `bench/TRIED.md`; the harness copies it here)", "",
              tried.read_text().strip(), ""]

    L += ["## Command lines", "", "Load:", "", "```",
          "wrk -t2 -c%d -d%gs --latency [-s post64k.lua] URL" % (s["connections"], s["duration"]),
          "ab -q -r -c1 -n%d [-k] [-p post64k.bin -T application/octet-stream] URL" % s["ab_requests"],
          "```", "", "Servers (one example of each; ports and paths change per run):", ""]
    cmds = data.get("commands", {})
    L += ["```"] + ["%-36s %s" % (key, lines[0]) for key, lines in cmds.items() if lines and "config:" not in lines[0]]
    L += ["```", "", "Frontend configs (the first nginx config in full; after it only what differs):", ""]
    seen_head = None
    for key, lines in cmds.items():
        confs = [x for x in lines if "config:\n" in x]
        if not confs:
            continue
        text = confs[0]
        if text.startswith("nginx config:"):
            head, sep, tail = text.partition("    upstream ") if "    upstream " in text else \
                text.partition("    server {")
            if seen_head is not None:
                text = "nginx config: ...\n" + sep + tail
            seen_head = head
        L += ["<details><summary><code>%s</code></summary>" % key, "", "```", text.rstrip(), "```", "",
              "</details>", ""]
    Path(path).write_text("\n".join(L) + "\n")


# ---------------------------------------------------------------- chart

PROTO_NAME = {"http": "HTTP", "fastcgi": "FastCGI", "scgi": "SCGI"}
COLORS = {"drover": "#d62728", "uwsgi": "#1f77b4", "gunicorn": "#2ca02c", "mod_wsgi": "#9467bd"}


def write_chart(data, path):
    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: small, searchable
    matplotlib.rcParams["svg.hashsalt"] = "drover-bench"  # the same figures give the same file
    import matplotlib.pyplot as plt
    d = Data(data)
    bars = []   # (row title, entry, rps stat, cpu stat, ratio text rps, ratio text cpu)
    for rid, row in d.rows.items():
        if row.kind != "load" or row.group == "baseline":
            continue
        drovers = [e for e in row.entries if e.is_drover]
        peers = [e for e in row.entries if not e.is_drover]
        family = lambda e: "http" if e.protocol == "http11" else e.protocol  # noqa: E731

        def label(a, b, metric):
            x = stat(d.ratios(a.key, b.key, metric))
            return "%.2fx" % x[0] if x else ""
        for e in row.entries:
            rps, cpu = d.stat(e.key, "rps"), d.stat(e.key, "cpu_us")
            if rps is None:
                continue
            rr = rc = ""
            if len(drovers) > len(peers) and len(peers) == 1 and e.is_drover:
                # Apache: three drovers, one peer: each drover says how it compares
                p = peers[0]
                rr, rc = ("vs %s %s" % (p.server, label(e, p, m)) for m in ("rps", "cpu_us"))
            elif not e.is_drover and drovers and len(drovers) <= len(peers):
                dv = next((x for x in drovers if family(x) == family(e)), drovers[0])
                name = "drover" if len(drovers) == 1 else "drover %s" % PROTO_NAME.get(family(dv), dv.protocol)
                rr, rc = ("%s %s" % (name, label(dv, e, m)) for m in ("rps", "cpu_us"))
            bars.append((rid, e, rps, cpu, rr, rc))
    if not bars:
        return
    # one header line per row, then its entries
    ys, labels, headers, y, prev = [], [], [], 0.0, None
    for rid, e, *_ in bars:
        if rid != prev:
            if prev is not None:
                y += 0.4
            headers.append((y, rid))
            y += 1
            prev = rid
        ys.append(y)
        labels.append(e.label)
        y += 1
    fig, axes = plt.subplots(1, 2, figsize=(15, 1.6 + 0.24 * y), sharey=True)
    for ax, idx, title, rt in ((axes[0], 3, "backend CPU per request, µs (lower is better)", 5),
                               (axes[1], 2, "throughput, wrk -c32 req/s (higher is better)", 4)):
        for yy, b in zip(ys, bars):
            s = b[idx]
            if s is None:
                continue
            c = COLORS.get(b[1].server, "#7f7f7f")
            ax.barh(yy, s[0], color=c, height=0.8, alpha=1.0 if b[1].is_drover else 0.75,
                    xerr=[[s[0] - s[1]], [s[2] - s[0]]] if s[3] > 1 else None, ecolor="#333333", capsize=2)
            txt = fnum(s[0], 0 if idx == 2 else 1)
            if b[rt]:
                txt += "   " + b[rt]
            ax.text(s[2] if s[3] > 1 else s[0], yy, "  " + txt, va="center", fontsize=7.5)
        for hy, _ in headers[1:]:
            ax.axhline(hy - 0.7, color="#bbbbbb", linewidth=0.6)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(0, ax.get_xlim()[1] * 1.35)
    ticks = ys + [h for h, _ in headers]
    names = labels + [rid for _, rid in headers]
    axes[0].set_yticks(ticks)
    axes[0].set_yticklabels(names, fontsize=7.5)
    for lab in axes[0].get_yticklabels():
        if lab.get_text() in d.rows:
            lab.set_fontweight("bold")
            lab.set_fontsize(8.5)
    axes[0].set_ylim(y, -0.6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    fig.legend(handles, ["drover", "uWSGI", "gunicorn", "mod_wsgi"], loc="upper right", ncol=4, fontsize=9)
    s = d.info["settings"]
    head = "drover %s vs peers: %d workers, hello app (POST rows: 64 KiB echo); median, bars min..max over %d round(s)" % (
        d.info["versions"]["drover"].split(" ")[0], s["workers"], s["rounds"])
    if is_validation(d):
        head += "\nVALIDATION RUN on a loaded machine (BENCH_QUICK): not a measurement"
    fig.suptitle(head, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.45 if is_validation(d) else 0.3) / fig.get_size_inches()[1]))
    fmt = Path(path).suffix.lstrip(".") or "svg"
    fig.savefig(str(path), format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
