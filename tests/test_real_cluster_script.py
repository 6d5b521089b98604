"""The real-cluster script cannot run here (no Kubernetes, no Docker); at
least keep it syntactically valid and pointing at files that exist."""

import py_compile
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "real_cluster" / "run.sh"


def test_script_parses_and_names_existing_files():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    py_compile.compile(str(ROOT / "tests" / "real_cluster" / "flow.py"), doraise=True)
    text = SCRIPT.read_text()
    for path in re.findall(r"\$root/([\w./-]+)", text):
        assert (ROOT / path).exists(), path
    # It runs the notebook pod as the service account the RBAC grants, in a
    # namespace made as the hub makes it, and checks the other tenant's view.
    assert "serviceAccountName: quarry-spark" in text
    assert "quarry_tenancy" in text and "kubectl auth can-i" in text and "nc\",\"-z" in text
