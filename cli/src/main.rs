//! The `memalloc` command.
fn main() {}
