"""Packaging of the binding. The package carries the native library: `pip install
./bindings/python` (and `make python-wheel`) copy target/release/libwebrtc_session.so into it,
building it with cargo first if this is a source checkout without one. The wheel is marked
platform specific (see pyproject.toml)."""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LIB = "libwebrtc_session.so"


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


class BuildWithLibrary(build_py):
    """Puts the native library into the built package."""

    def run(self):
        super().run()
        bundled = HERE / "webrtc_session" / LIB
        built = REPO / "target" / "release" / LIB
        source = bundled if bundled.exists() else built
        if not source.exists() and (REPO / "Cargo.toml").exists():
            subprocess.run(["cargo", "build", "--release", "--locked"], cwd=REPO, check=True)
        if not source.exists():
            raise SystemExit(f"{LIB} not found: build it first (make lib) or set WEBRTC_SESSION_LIB at run time")
        target = Path(self.build_lib) / "webrtc_session" / LIB
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildWithLibrary})
