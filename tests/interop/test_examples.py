"""Every Python example runs as a test (the C and C# examples run in their own parts of
`make test`), and the installed package finds its library with no environment variable."""

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from test_chromium import Browser, chromium_binary

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "bindings" / "python" / "examples"


def clean_env():
    env = dict(os.environ)
    env.pop("WEBRTC_SESSION_LIB", None)
    return env


def test_loopback_example_connects_and_moves_media():
    # It deadlocked when each session's callback waited for the other's (one media thread
    # delivers both): run it several times.
    for _ in range(3):
        out = subprocess.run([sys.executable, str(EXAMPLES / "loopback.py")], capture_output=True, text=True,
                             timeout=60, env=clean_env())
        assert out.returncode == 0, out.stdout + out.stderr
        m = re.search(r"packets received: offerer (\d+)/50, answerer (\d+)/50", out.stdout)
        assert m and int(m.group(1)) >= 45 and int(m.group(2)) >= 45, out.stdout


def test_browser_echo_example_with_chromium():
    chromium_binary()
    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "browser_echo.py"), "--seconds", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
    browser = None
    try:
        first = proc.stdout.readline()
        m = re.search(r"open (http://\S+) in a browser", first)
        assert m, first
        browser = Browser(m.group(1))
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, first + out + browser.log_tail()
        echoed = re.search(r"done: echoed (\d+) packets", out)
        assert echoed and int(echoed.group(1)) > 50, out
        # The page for a person: the echo video plays (it reports its size and advancing time).
        plays = re.search(r"page: the echo plays \((\d+)x(\d+)", out)
        assert plays and int(plays.group(1)) > 0 and int(plays.group(2)) > 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if browser:
            browser.close()


def test_pip_installed_package_carries_its_library():
    with tempfile.TemporaryDirectory(prefix="wrs-pip-") as d:
        venv = Path(d) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                              str(REPO / "bindings" / "python")], capture_output=True, text=True, timeout=600)
        assert pip.returncode == 0, pip.stdout + pip.stderr
        probe = ("import webrtc_session, webrtc_session._native as n; "
                 "print(webrtc_session.version()); print(n.loaded_from)")
        started = time.monotonic()
        out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True,
                             timeout=60, cwd=d, env=clean_env())
        assert out.returncode == 0, out.stdout + out.stderr
        version, path = out.stdout.split()
        assert version.startswith("0."), out.stdout
        assert path.startswith(str(venv)) and "site-packages" in path, f"loaded {path} ({time.monotonic() - started:.1f} s)"
