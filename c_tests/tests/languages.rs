//! memalloc used the way other ecosystems use a C library: installed under a prefix and
//! found with pkg-config, from C++ through `include/memalloc.hpp`, and from Python through
//! the package in `python/` (loaded from the source tree). Each test runs the real tools (`bash`, `cc`,
//! `c++`, `pkg-config`, `python3`) on the libraries cargo built for this run.

#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;

use support::{SONAME, TempDir, library_dir, workspace_root};

/// Runs `command`, requires success, returns stdout.
fn run(what: &str, command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn install_script_lays_out_a_prefix_that_pkg_config_finds_and_uninstall_removes_it() {
    let tmp = TempDir::new("install");
    let prefix = tmp.0.join("prefix");
    run(
        "scripts/install.sh",
        Command::new("bash")
            .arg(workspace_root().join("scripts/install.sh"))
            .arg(&prefix)
            .env("SKIP_BUILD", "1")
            .env("MEMALLOC_LIB_DIR", library_dir()),
    );
    let lib = prefix.join("lib");
    for file in [
        "libmemalloc.a",
        "libmemalloc.so",
        SONAME,
        "pkgconfig/memalloc.pc",
        "cmake/memalloc/memallocConfig.cmake",
        "cmake/memalloc/memallocConfigVersion.cmake",
    ] {
        assert!(lib.join(file).exists(), "{file} is not installed");
    }
    assert_eq!(std::fs::read_link(lib.join("libmemalloc.so")).unwrap(), Path::new(SONAME));
    assert!(prefix.join("include/memalloc.h").is_file() && prefix.join("include/memalloc.hpp").is_file());

    // The installed shared library names itself by its SONAME.
    let dynamic = run("readelf -d", Command::new("readelf").arg("-d").arg(lib.join(SONAME)));
    assert!(dynamic.contains(&format!("Library soname: [{SONAME}]")), "{dynamic}");

    // cc app.c $(pkg-config --cflags --libs memalloc), as the README says.
    let flags = run(
        "pkg-config",
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "memalloc"])
            .env("PKG_CONFIG_PATH", lib.join("pkgconfig")),
    );
    let exe = tmp.0.join("demo");
    run(
        "cc with pkg-config flags",
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(workspace_root().join("examples/demo.c"))
            .args(flags.split_whitespace())
            .arg("-o")
            .arg(&exe),
    );
    let stdout = run("the installed demo", Command::new(&exe).env("LD_LIBRARY_PATH", &lib));
    assert!(stdout.contains("[Free(0-49)] [Allocated(50-89)] [Free(90-99)]"), "{stdout}");

    // Installed without debug information (the libraries cargo built here have it).
    let sections = run("readelf -S", Command::new("readelf").arg("-S").arg(lib.join("libmemalloc.a")));
    assert!(
        !sections.contains(".debug_info") && !sections.contains(".debug_line"),
        "libmemalloc.a is installed with debug information"
    );

    // scripts/uninstall.sh removes every file it installed, and only those.
    let other = lib.join("someone-elses.so");
    std::fs::write(&other, "").unwrap();
    run("scripts/uninstall.sh", Command::new("bash").arg(workspace_root().join("scripts/uninstall.sh")).arg(&prefix));
    let mut left = Vec::new();
    let mut dirs = vec![prefix.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            if entry.file_type().unwrap().is_dir() { dirs.push(entry.path()) } else { left.push(entry.path()) }
        }
    }
    assert_eq!(left, [other], "uninstall.sh left or removed the wrong files");
}

#[test]
fn cpp_wrapper_example_builds_with_strict_flags_and_runs() {
    let tmp = TempDir::new("cpp");
    let exe = tmp.0.join("raii");
    let root = workspace_root();
    run(
        "c++ examples/cpp/raii.cpp",
        Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(root.join("include"))
            .arg(root.join("examples/cpp/raii.cpp"))
            .arg(library_dir().join("libmemalloc.a"))
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe),
    );
    let stdout = run("the C++ example", &mut Command::new(&exe));
    for expected in [
        "allocated 0, 20, 50",
        "scoped allocation at 20: [Allocated(0-19)] [Allocated(20-44)] [Free(45-49)] [Allocated(50-89)] [Free(90-99)]",
        "after the scope: [Allocated(0-19)] [Free(20-49)] [Allocated(50-89)] [Free(90-99)]",
        "free(50, 10) threw status 6: the live allocation at this address has another size",
        "all freed: [Free(0-99)]",
    ] {
        assert!(stdout.lines().any(|line| line == expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn c_header_compiles_as_cpp() {
    let tmp = TempDir::new("header-cpp");
    let source = tmp.0.join("only_header.cpp");
    std::fs::write(&source, "#include \"memalloc.h\"\nint main() { return ma_create(0) == nullptr ? 0 : 1; }\n")
        .unwrap();
    let exe = tmp.0.join("only_header");
    run(
        "c++ on memalloc.h",
        Command::new("c++")
            .args(["-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(workspace_root().join("include"))
            .arg(&source)
            .arg(library_dir().join("libmemalloc.a"))
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe),
    );
    run("the header-only C++ program", &mut Command::new(&exe));
}

/// `python3 args` from the workspace root, with the package `python/memalloc` importable
/// from the source tree and loading the library cargo built for this run.
fn python_command(args: &[&str]) -> Command {
    let root = workspace_root();
    let mut command = Command::new("python3");
    command
        .args(args)
        .current_dir(&root)
        .env("PYTHONPATH", root.join("python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("MEMALLOC_LIB", library_dir().join("libmemalloc.so"));
    command
}

fn python(args: &[&str]) -> String {
    run(&format!("python3 {args:?}"), &mut python_command(args))
}

#[test]
fn python_worked_example_prints_what_the_package_readme_shows() {
    let stdout = python(&["examples/python/worked_example.py"]);
    assert_eq!(stdout, doc_block_after("python/README.md", "`examples/python/worked_example.py` prints:"));
}

#[test]
fn python_package_demo_prints_the_worked_example_as_the_command_does() {
    assert_eq!(
        python(&["-m", "memalloc", "demo"]),
        doc_block_after("README.md", "`cargo run --release -- demo` prints:")
    );
}

/// The package's pytest suite, when pytest is installed (scripts/ci-python.sh runs it
/// against the installed package in any case).
#[test]
fn python_package_tests_pass() {
    let has_pytest = python_command(&["-c", "import pytest"]).output().is_ok_and(|out| out.status.success());
    if !has_pytest {
        println!("SKIPPED: pytest is not installed (scripts/ci-python.sh runs python/tests)");
        return;
    }
    python(&["-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"]);
}

/// The fenced block of `file` (relative to the workspace: README.md, python/README.md) that
/// follows the first occurrence of `marker` (a line ending in a colon).
fn doc_block_after(file: &str, marker: &str) -> String {
    let text =
        std::fs::read_to_string(workspace_root().join(file)).unwrap_or_else(|e| panic!("{file} is readable: {e}"));
    let after = &text[text.find(marker).unwrap_or_else(|| panic!("{file} lacks {marker:?}"))..];
    let body = &after[after.find("```").expect("a fenced block follows")..];
    let body = &body[body.find('\n').expect("the fence ends its line") + 1..];
    body[..body.find("```").expect("the block is closed")].to_string()
}

#[test]
fn readme_quickstart_is_the_example_file_and_prints_what_the_readme_says() {
    let root = workspace_root();
    let source = std::fs::read_to_string(root.join("examples/quickstart.c")).unwrap();
    assert_eq!(doc_block_after("README.md", "`examples/quickstart.c` (the tests compile"), source);

    let tmp = TempDir::new("quickstart");
    let exe = tmp.0.join("quickstart");
    run(
        "cc examples/quickstart.c",
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
            .arg(root.join("include"))
            .arg(root.join("examples/quickstart.c"))
            .arg(library_dir().join("libmemalloc.a"))
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe),
    );
    let stdout = run("the quickstart", &mut Command::new(&exe));
    assert_eq!(stdout, doc_block_after("README.md", "It prints:"));
}
