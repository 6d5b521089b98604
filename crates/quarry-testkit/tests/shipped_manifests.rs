//! Every manifest under images/k8s/ is the kind it claims, field for field.

use std::path::PathBuf;

use quarry_testkit::manifests;

#[test]
fn shipped_manifests_parse_as_their_kinds() {
    // The directory at run time, not compile time: a test binary built in
    // another checkout sharing the target dir is reused as fresh.
    let manifest = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = PathBuf::from(manifest).join("../../images/k8s");
    let mut checked = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("images/k8s exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    entries.sort();
    for path in entries {
        for document in manifests::documents(&path).unwrap() {
            checked.push(manifests::check(&document).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    // The ClusterRole the Spark preflight names (bound in each user's
    // namespace) and the hub's rights; the per-user objects come from
    // images/hub/quarry_tenancy.py (tests/test_tenancy.py).
    for expected in [
        "ClusterRole/-/quarry-spark",
        "ClusterRole/-/quarry-hub",
        "ClusterRoleBinding/-/quarry-hub",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} missing from {checked:?}"
        );
    }
}
