"""The Python package as a user installs it: `pip wheel` of bindings/python (the wheel carries
the native library), installed into a fresh virtualenv, imported from outside the source tree
with no environment variable, loading the library it carries, and running a call between two
sessions (the asyncio API included)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CALL = r"""
import asyncio, webrtc_session as w
from webrtc_session import _native
from webrtc_session.aio import RTCPeerConnection, RTCSessionDescription

async def main():
    config = w.Config(local_addresses=["127.0.0.1"])
    a, b = RTCPeerConnection(config=config), RTCPeerConnection(config=config)
    config.free()
    got = asyncio.get_running_loop().create_future()
    ch = a.createDataChannel("x")
    ch.on("open", lambda: ch.send("over the wheel"))
    b.on("datachannel", lambda c: c.on("message", lambda m: got.done() or got.set_result(m)))
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(RTCSessionDescription(a.localDescription.sdp, "offer"))
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(RTCSessionDescription(b.localDescription.sdp, "answer"))
    print("message", await asyncio.wait_for(got, 20))
    await a.close(); await b.close()

print("version", w.version())
print("loaded", _native.loaded_from)
asyncio.run(main())
"""


def test_wheel_installs_into_a_fresh_virtualenv_and_runs_a_call(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(REPO / "bindings" / "python")], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("webrtc_session-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "webrtc_session/libwebrtc_session.so" in names and "webrtc_session/aio.py" in names, names
    assert "linux" in wheel.name, f"a platform wheel: {wheel.name}"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], check=True, cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("WEBRTC_SESSION_LIB", "PYTHONPATH", "LD_LIBRARY_PATH")}
    out = subprocess.run([str(py), "-c", CALL], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    print(out.stdout, out.stderr)
    assert out.returncode == 0, out.stderr
    assert "message over the wheel" in out.stdout
    loaded = next(l for l in out.stdout.splitlines() if l.startswith("loaded ")).split(" ", 1)[1]
    assert loaded.startswith(str(venv)), f"the library the wheel carries, not {loaded}"
