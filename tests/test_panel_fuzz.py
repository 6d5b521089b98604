"""schemathesis (PyPI) against `quarry serve`, from the panel's own
`openapi.json`, with all its checks: no 5xx, responses that match their
schemas, documented status codes and content types. The backend signs with
STS credentials from SeaweedFS, and requests carry the XSRF cookie and
header, so state-changing routes are reached, not refused at the door.

schemathesis lives in a venv of its own (`cargo xtask setup`, from
tests/requirements-schemathesis.txt; QUARRY_SCHEMATHESIS names its `st`).
The number of examples per operation is bounded so the run stays in CI."""

import os
import subprocess
from pathlib import Path

import pytest

from support.kernels import minimal_env
from support.ports import free_ports, wait_for_port
from support.processes import stop_process
from support.seaweed import Seaweed

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT = Path.home() / ".cache" / "quarry" / "venv-schemathesis" / "bin" / "st"
EXAMPLES = int(os.environ.get("QUARRY_FUZZ_EXAMPLES", "25"))
XSRF = "fuzz-xsrf-value"
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"


def schemathesis():
    path = Path(os.environ.get("QUARRY_SCHEMATHESIS") or DEFAULT)
    if not path.is_file():
        raise RuntimeError(f"schemathesis is not installed at {path}: run the tests through `cargo xtask test`")
    return path


@pytest.fixture(scope="module")
def backend(oidc, tmp_path_factory, quarry_bin):
    workdir = tmp_path_factory.mktemp("fuzz")
    with Seaweed(workdir / "s3", oidc, user_buckets=("data",)) as s3:
        s3.create_bucket("data")
        s3.admin().put_object(Bucket="data", Key="t.csv", Body=b"a,b\n1,x\n")
        credentials = s3.assume_role(oidc.mint("erin"))
        (port,) = free_ports(1)
        log = open(workdir / "serve.log", "wb")
        process = subprocess.Popen(
            [quarry_bin, "serve", "--port", str(port)],
            env=minimal_env(s3.env_for(credentials)), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, timeout=30, process=process, what="quarry serve")
            yield f"http://127.0.0.1:{port}", workdir / "serve.log"
        finally:
            stop_process(process)
            log.close()


def test_the_panel_api_survives_schemathesis(backend):
    base, log = backend
    report = ARTIFACTS / "schemathesis"
    report.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            str(schemathesis()), "--config-file", str(CONFIG), "--no-color",
            "run", f"{base}/api/openapi.json",
            "--url", base,
            "--checks", "all",
            "--max-examples", str(EXAMPLES),
            "--header", f"X-XSRFToken: {XSRF}",
            "--header", f"Cookie: _xsrf={XSRF}",
            "--request-timeout", "30",
            "--seed", "1",
            "--report", "junit", "--report-dir", str(report),
        ],
        capture_output=True, text=True, timeout=1200,
    )
    (report / "output.txt").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"schemathesis found problems:\n{done.stdout[-6000:]}"
    # Something ran: every operation of the document was exercised.
    assert "passed" in done.stdout.lower(), done.stdout[-2000:]
