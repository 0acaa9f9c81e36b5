//! Links the C test suite; the tests live in tests/.
