//! Files generated from a definition in the code (a reference page, a
//! TypeScript copy of a Rust list or type) are checked by a unit test that
//! regenerates them: [`assert_generated`] compares, and with `QUARRY_BLESS`
//! set writes the file first. One helper, so every generated file is
//! checked and blessed the same way.

use std::path::PathBuf;

/// The workspace root, read at run time: a test binary built in another
/// checkout (a CI clone sharing the target dir) is reused as fresh, and a
/// compile-time path would point into that checkout.
fn workspace_root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    PathBuf::from(manifest).join("../..")
}

/// Fails unless `path` (from the workspace root) holds `expected`;
/// `QUARRY_BLESS=1` writes it first. `bless` is the command to name when
/// it differs.
pub fn assert_generated(path: &str, expected: &str, bless: &str) {
    let file = workspace_root().join(path);
    if std::env::var_os("QUARRY_BLESS").is_some() {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).expect("the generated file's folder");
        }
        std::fs::write(&file, expected).expect("write the generated file");
    }
    let actual = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        actual == expected,
        "{path} is out of date: run QUARRY_BLESS=1 {bless}"
    );
}
