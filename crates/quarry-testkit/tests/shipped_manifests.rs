//! Every manifest under images/k8s/ is the kind it claims, field for field.

use std::path::PathBuf;

use quarry_testkit::manifests;

#[test]
fn shipped_manifests_parse_as_their_kinds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../images/k8s");
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
    // The RBAC that the Spark preflight names, the quota and the policies.
    for expected in [
        "ServiceAccount/quarry-users/quarry-spark",
        "Role/quarry-users/quarry-spark",
        "RoleBinding/quarry-users/quarry-spark",
        "ResourceQuota/quarry-users/quarry-users",
        "NetworkPolicy/quarry-users/quarry-spark-executors",
        "Role/quarry-users/quarry-hub-spawner",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} missing from {checked:?}"
        );
    }
}
