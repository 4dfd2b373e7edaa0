"""Whether a drover binary pings systemd's watchdog: runs it with a test
NOTIFY_SOCKET and WATCHDOG_USEC=2s for a few seconds, prints the messages it
sent, one per line (WATCHDOG=1 among them when it pings at half of 2 s)."""
import os
import socket
import subprocess
import sys
import tempfile
import time

drover, port = sys.argv[1], sys.argv[2]
d = tempfile.mkdtemp()
path = os.path.join(d, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
proc = subprocess.Popen([drover, "-b", "127.0.0.1:" + port, "-w", "1", "--metrics", "", "--pythonpath", "/srv/app",
                         "app"],
                        env={"PATH": os.environ["PATH"], "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"},
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: None)
# WATCHDOG_PID must be the master's own: sd_watchdog_enabled() ignores
# WATCHDOG_USEC meant for another process. Without it, any pid is fine.
messages = []
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    try:
        messages.extend(s.recv(4096).decode().split("\n"))
    except socket.timeout:
        pass
proc.terminate()
proc.wait(30)
print("\n".join(messages))
