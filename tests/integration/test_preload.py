"""preload = true: one import per generation in a zygote, workers forked from
it as the master's own children, and code still reloads on SIGHUP."""
import shutil
import signal

import requests

from conftest import APPS, wait_until


def _answers(port, n=12):
    out = set()
    for _ in range(n):
        r = requests.get("http://127.0.0.1:%d/" % port, timeout=10)
        assert r.status_code == 200
        out.add(tuple(r.text.split()))
    return out


def test_preload_imports_once_per_generation_and_reloads_code(start_drover, http_port, tmp_path):
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    shutil.copy(APPS / "preload_app.py", app_dir / "preload_app.py")
    imports = tmp_path / "imports.log"
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "3", "--preload", "--pythonpath", str(app_dir),
                     "preload_app", workers=3, env={"IMPORT_LOG": str(imports)})

    answers = _answers(http_port)
    assert {a[0] for a in answers} == {"v1"}
    # every worker is the master's child, not the zygote's
    assert {int(a[2]) for a in answers} == {d.pid}
    assert set(d.live_worker_pids()) >= {int(a[1]) for a in answers}
    # imported once, by a process that is not a worker
    importers = imports.read_text().split()
    assert len(importers) == 1
    assert int(importers[0]) not in {int(a[1]) for a in answers}

    # scaling up costs a fork, not an import
    d.signal(signal.SIGTTIN)
    wait_until(lambda: len([p for p in d.ready_pids(generation=1) if p in d.live_worker_pids()]) >= 4, 10,
               what="a fourth worker")
    assert len(imports.read_text().split()) == 1

    # a changed app is served after SIGHUP, imported once more by the new zygote
    source = (app_dir / "preload_app.py").read_text().replace('VERSION = "v1"', 'VERSION = "v2"')
    (app_dir / "preload_app.py").write_text(source)
    d.signal(signal.SIGHUP)
    d.wait_log(r"reload: generation 2 is ready", timeout=20)
    wait_until(lambda: {a[0] for a in _answers(http_port, 6)} == {"v2"}, 10, what="v2 answers only")
    assert len(imports.read_text().split()) == 2
    assert {int(a[2]) for a in _answers(http_port)} == {d.pid}


def test_preload_import_failure_backs_off(start_drover, http_port, tmp_path):
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "--preload", "--pythonpath", str(APPS), "broken_app",
                     wait=False)
    d.wait_log(r"zygote \d+ exited with code 3 before it imported the application; failure 2, next attempt in",
               timeout=15)
    assert "ImportError: broken_app is broken on purpose" in d.log()
    assert d.proc.poll() is None


def test_preload_runs_the_fork_handlers_so_an_app_thread_cannot_hang_workers(start_drover, http_port):
    """Issue 9, defect 10: workers were forked with a raw clone() that skips
    glibc's fork handlers; a lock that an app thread held at that moment (the
    allocator's here) stayed held in the worker for ever."""
    d = start_drover("-b", "127.0.0.1:%d" % http_port, "-w", "4", "--preload", "--pythonpath", str(APPS),
                     "threaded_preload_app", workers=4, ready_timeout=20, env={"MALLOC_ARENA_MAX": "1"})
    for n in (5, 6, 7):  # more forks, once the thread holds the lock most of the time
        d.signal(signal.SIGTTIN)
        d.wait_log(r"SIGTTIN: %d workers" % n)
    wait_until(lambda: len([p for p in d.ready_pids() if p in d.live_worker_pids()]) >= 7, 20,
               what="seven ready workers")
    pids = {requests.get("http://127.0.0.1:%d/" % http_port, headers={"Connection": "close"}, timeout=10).text
            for _ in range(20)}
    assert len(pids) >= 1
