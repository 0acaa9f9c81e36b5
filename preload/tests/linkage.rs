//! How the preload library presents itself to the dynamic linker: its own SONAME, the
//! malloc family exported, and nothing of the `ma_*` C API (which is `libmemalloc.so`'s).

mod support;

use std::process::Command;

fn tool_output(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).arg(support::library()).output().expect("binutils are installed");
    assert!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn preload_library_has_its_own_soname() {
    let dynamic = tool_output("readelf", &["-d"]);
    assert!(dynamic.contains("Library soname: [libmemalloc_preload.so]"), "{dynamic}");
}

#[test]
fn preload_library_exports_the_malloc_family_and_no_c_api() {
    let symbols = tool_output("nm", &["-D", "--defined-only"]);
    let exported: Vec<&str> = symbols.lines().filter_map(|line| line.split_whitespace().nth(2)).collect();
    for name in ["malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc"] {
        assert!(exported.contains(&name), "{name} is not exported");
    }
    for name in ["memalign", "valloc", "pvalloc", "malloc_usable_size"] {
        assert!(exported.contains(&name), "{name} is not exported");
    }
    let c_api: Vec<_> = exported.iter().filter(|name| name.starts_with("ma_")).collect();
    assert!(c_api.is_empty(), "the preload exports the C API: {c_api:?}");
}
