"""The package as installed: its library, its types, its command, its documentation."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import memalloc
from memalloc import _native
from conftest import REPO, expect_installed, repo_file

PACKAGE = Path(memalloc.__file__).resolve().parent


def run_python(*args: str, env: dict[str, str] | None = None, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``python args`` with this interpreter, from a directory without a ``memalloc`` in it."""
    return subprocess.run(
        [sys.executable, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, cwd="/", env=env
    )


def test_the_package_carries_its_library_and_py_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
    if expect_installed():
        site = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
        assert any(parent in site for parent in PACKAGE.parents), f"{PACKAGE} is not an installed package"
        assert "MEMALLOC_LIB" not in os.environ
        assert Path(memalloc.library_path()) == PACKAGE / "libmemalloc.so"
        size = (PACKAGE / "libmemalloc.so").stat().st_size
        assert size < 2_000_000, f"the bundled library is not stripped ({size} bytes)"


def test_versions_agree() -> None:
    assert memalloc.version() == memalloc.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", memalloc.__version__)
    cargo = repo_file("Cargo.toml").read_text()
    crate_version = re.search(r'^version = "(.+)"$', cargo, re.MULTILINE)
    assert crate_version and crate_version.group(1) == memalloc.__version__


def c_functions() -> set[str]:
    """The functions the header declares."""
    header = repo_file("include/memalloc.h").read_text()
    return set(re.findall(r"^[a-z][\w\s\*]*?\b(ma_\w+)\(", header, re.MULTILINE))


def test_every_c_function_is_declared_and_called_by_the_package() -> None:
    functions = c_functions()
    assert "ma_alloc" in functions and "ma_walk" in functions
    assert set(_native.FUNCTIONS) == functions, "the binding and include/memalloc.h declare different functions"
    sources = "".join(path.read_text() for path in PACKAGE.glob("*.py"))
    unused = sorted(name for name in functions if not re.search(rf"\blib\.{name}\b", sources))
    assert unused == [], f"no Python function calls {unused}"


def test_a_missing_library_is_an_import_error_that_says_what_to_do() -> None:
    env = dict(os.environ, MEMALLOC_LIB="/nonexistent/libmemalloc.so")
    result = run_python("-c", "import memalloc", env=env)
    assert result.returncode != 0
    assert "ImportError: memalloc: cannot load the shared library /nonexistent/libmemalloc.so" in result.stderr


def readme_block(path: Path, marker: str, fence: str) -> str:
    """The fenced block (```fence) of ``path`` that follows ``marker``."""
    text = path.read_text()
    after = text[text.index(marker):]
    body = after[after.index(f"```{fence}\n") + len(fence) + 4:]
    return body[: body.index("```")]


def test_demo_prints_the_worked_example_as_the_readme_shows_it() -> None:
    shown = readme_block(repo_file("README.md"), "`cargo run --release -- demo` prints:", "text")
    result = run_python("-m", "memalloc", "demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


@pytest.mark.skipif("MEMALLOC_CLI" not in os.environ, reason="MEMALLOC_CLI names no memalloc command to compare with")
def test_demo_is_the_rust_commands_under_every_policy(policy: str) -> None:
    rust = subprocess.run([os.environ["MEMALLOC_CLI"], "demo", "--policy", policy], capture_output=True, text=True)
    assert rust.returncode == 0, rust.stderr
    assert run_python("-m", "memalloc", "demo", "--policy", policy).stdout == rust.stdout


def test_demo_replays_on_each_policys_addresses(policy: str) -> None:
    result = run_python("-m", "memalloc", "demo", "--policy", policy)
    assert result.returncode == 0, result.stderr
    frees = [line for line in result.stdout.splitlines() if re.match(r"\d\. free", line)]
    assert len(frees) == 3 and all(" -> ok " in line for line in frees), result.stdout
    assert "the map is unchanged: true" in result.stdout


def test_demo_rejects_an_unknown_policy() -> None:
    result = run_python("-m", "memalloc", "demo", "--policy", "worst-fit")
    assert result.returncode == 2 and "invalid choice: 'worst-fit'" in result.stderr


def test_demo_exits_quietly_on_a_closed_pipe() -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        result = run_python("-m", "memalloc", "demo", stdout=write)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (0, "")


def run_snippet(code: str) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "<readme>", "exec"), {})
    return output.getvalue()


def test_the_package_readme_example_prints_what_its_comments_say() -> None:
    code = readme_block(repo_file("python/README.md"), "## Use", "python")
    expected = [comment for line in code.splitlines() if "print(" in line for comment in [line.split("# ")[-1]]]
    assert run_snippet(code).splitlines() == expected


def test_the_readme_python_snippet_runs() -> None:
    run_snippet(readme_block(repo_file("README.md"), "## Using it from Python", "python"))


def test_the_worked_example_script_prints_the_reference_maps() -> None:
    script = repo_file("examples/python/worked_example.py")
    result = run_python(str(script))
    assert result.returncode == 0, result.stderr
    assert "7. free(20, 25) -> ok  [Free(0-49)] [Allocated(50-89)] [Free(90-99)]" in result.stdout.splitlines()
    assert REPO.is_dir()
