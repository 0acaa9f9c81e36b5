"""The build step of the memalloc Python package: cargo builds the C library, which is
copied (stripped) into the package beside its Python modules.

``pip install ./python`` (from a clone of memalloc) runs
``cargo build --release -p memalloc`` in the Rust workspace one directory up and puts
``libmemalloc.so`` into ``memalloc/``. Environment:

- ``MEMALLOC_PREBUILT_LIB=PATH``: take this ``libmemalloc.so`` instead of running cargo
  (a library built elsewhere, e.g. for a wheel built without the Rust workspace).
- ``CARGO``: the cargo to run (default ``cargo``); ``CARGO_TARGET_DIR`` etc. are honoured.

Everything else (metadata, the package, its data) is in pyproject.toml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent
LIBRARY = "libmemalloc.so"


def cargo_build() -> Path:
    """Builds the memalloc cdylib in release mode; returns the path of libmemalloc.so."""
    manifest = WORKSPACE / "Cargo.toml"
    if not (manifest.is_file() and (WORKSPACE / "src" / "ffi").is_dir()):
        raise SystemExit(
            f"memalloc: no Rust workspace at {WORKSPACE}: build the package from a clone of memalloc "
            "(pip install ./python), or set MEMALLOC_PREBUILT_LIB to a libmemalloc.so"
        )
    cargo = os.environ.get("CARGO", "cargo")
    command = [cargo, "build", "--release", "-p", "memalloc", "--manifest-path", str(manifest),
               "--message-format=json-render-diagnostics"]
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True)
    except FileNotFoundError as error:
        raise SystemExit(f"memalloc: cannot run {cargo} (install Rust: https://rustup.rs): {error}") from error
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"memalloc: {' '.join(command)} failed with status {error.returncode}") from error
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or message["target"]["name"] != "memalloc":
            continue
        for filename in message["filenames"]:
            if filename.endswith(LIBRARY):
                return Path(filename)
    raise SystemExit(f"memalloc: cargo built no {LIBRARY}")


def library() -> Path:
    """The library to package: MEMALLOC_PREBUILT_LIB, or cargo's build."""
    prebuilt = os.environ.get("MEMALLOC_PREBUILT_LIB")
    return Path(prebuilt) if prebuilt else cargo_build()


def install_library(source: Path, package_dir: Path) -> None:
    """Copies the library into the package, without debug information when `strip` exists
    (the release profile keeps line tables: 6 MB instead of a few hundred KB)."""
    package_dir.mkdir(parents=True, exist_ok=True)
    target = package_dir / LIBRARY
    shutil.copyfile(source, target)
    target.chmod(0o755)
    strip = shutil.which("strip")
    if strip:
        subprocess.run([strip, "--strip-unneeded", str(target)], check=True)


class build_py(_build_py):
    """Builds the Python modules, then the C library into the package."""

    def run(self) -> None:
        super().run()
        source = library()
        # An editable install imports the package from the source tree.
        destination = HERE / "memalloc" if getattr(self, "editable_mode", False) else Path(self.build_lib) / "memalloc"
        install_library(source, destination)


class bdist_wheel(_bdist_wheel):
    """The wheel holds a native library (no Python extension): any Python 3, this
    platform only."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": build_py, "bdist_wheel": bdist_wheel})
