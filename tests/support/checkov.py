"""checkov (Prisma Cloud's IaC scanner, from PyPI) over Kubernetes objects:
the shipped manifests, what the hub creates per user, and the pod specs the
hub and Spark produce. Offline: no guideline download, no telemetry."""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import yaml

DEFAULT = Path.home() / ".cache" / "quarry" / "venv-checkov" / "bin" / "checkov"


def checkov_binary():
    path = Path(os.environ.get("QUARRY_CHECKOV") or DEFAULT)
    if not path.is_file():
        raise RuntimeError(f"checkov is not installed at {path}: run the tests through `cargo xtask test`")
    return path


def failed_checks(objects):
    """`{(check_id, "Kind.namespace.name"): check_name}` for every check the
    objects fail."""
    with tempfile.TemporaryDirectory(prefix="quarry-checkov-") as workdir:
        manifest = Path(workdir) / "objects.yaml"
        manifest.write_text(yaml.safe_dump_all(objects))
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
        done = subprocess.run(
            [str(checkov_binary()), "-f", str(manifest), "--framework", "kubernetes", "-o", "json",
             "--compact", "--quiet", "--skip-download", "--soft-fail"],
            capture_output=True, text=True, timeout=300, env=env,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    reports = json.loads(done.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    found = {}
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        for check in results.get("failed_checks", []):
            found[(check["check_id"], check["resource"])] = check["check_name"]
    return found


def unexplained(objects, suppressed):
    """Failed checks not in `suppressed` (`{check_id: reason}`), as text;
    a suppression that no longer matches a failure is reported too, so the
    list of reasons stays true."""
    failed = failed_checks(objects)
    problems = [f"{cid} {resource}: {name}" for (cid, resource), name in failed.items() if cid not in suppressed]
    still_failing = {cid for cid, _ in failed}
    problems += [f"{cid} is suppressed but passes now: drop it" for cid in suppressed if cid not in still_failing]
    return sorted(problems)
