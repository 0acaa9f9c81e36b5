//! The committed C header must be exactly what cbindgen generates from src/ffi.

#[test]
fn header_is_fresh() {
    let committed = include_str!("../include/memalloc.h");
    let generated = include_str!(concat!(env!("OUT_DIR"), "/memalloc.h"));
    assert!(
        committed == generated,
        "include/memalloc.h is stale: regenerate it with `MEMALLOC_UPDATE_HEADER=1 cargo build` and commit it"
    );
}

#[test]
fn header_version_macros_match_the_crate() {
    let header = include_str!("../include/memalloc.h");
    let define = |name: &str| {
        header
            .lines()
            .find_map(|line| line.strip_prefix(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} is not defined"))
            .to_string()
    };
    let version =
        format!("{}.{}.{}", define("MA_VERSION_MAJOR"), define("MA_VERSION_MINOR"), define("MA_VERSION_PATCH"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(define("MA_VERSION_STRING"), format!("\"{version}\""));
}
