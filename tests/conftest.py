import os
import shutil
from pathlib import Path

import pytest

from support.kernels import install_kernelspec
from support.oidc import OidcIssuer
from support.seaweed import Seaweed

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--quarry", default=os.environ.get("QUARRY_BIN"), help="path to the quarry binary")
    parser.addoption(
        "--wheel", default=os.environ.get("QUARRY_WHEEL"),
        help="path to the quarry-jupyter wheel (cargo xtask test builds one; without it, the tests that need it build it)",
    )


def pytest_configure(config):
    quarry = config.getoption("--quarry")
    if not quarry or not Path(quarry).is_file():
        raise pytest.UsageError("pass --quarry=PATH (cargo xtask test does) or set QUARRY_BIN")
    os.environ["QUARRY_BIN"] = quarry
    # A kernel started from this environment (not through minimal_env)
    # keeps tables in the run's own catalog, never in the user's home.
    import tempfile

    os.environ["QUARRY_CATALOG"] = os.path.join(tempfile.mkdtemp(prefix="quarry-catalog-"), "catalog.json")
    # jupyter_kernel_test's classes find the kernelspec by name at import.
    install_kernelspec(quarry)


@pytest.fixture(scope="session")
def quarry_bin():
    return os.environ["QUARRY_BIN"]


@pytest.fixture(scope="session")
def quarry_wheel(request, tmp_path_factory):
    """The quarry-jupyter wheel, dev profile: the one `cargo xtask test`
    built, or built here the same way."""
    given = request.config.getoption("--wheel")
    if given:
        return Path(given)
    import subprocess

    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(["cargo", "xtask", "wheel", "--out", str(out)], cwd=ROOT, check=True)
    (wheel,) = out.glob("quarry_jupyter-*.whl")
    return wheel


@pytest.fixture(scope="session")
def oidc():
    with OidcIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def seaweed(oidc, tmp_path_factory):
    server = Seaweed(tmp_path_factory.mktemp("seaweed"), oidc, user_buckets=("data", "demo"))
    with server:
        for bucket in ("data", "demo", "forbidden"):
            server.create_bucket(bucket)
        yield server
    # Keep the server log next to other artifacts when a test failed.
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(server.dir / "weed.log", artifacts / "weed.log")


# --- Descriptor accounting -------------------------------------------------
# Every module must close what it opened (kernels, clients, servers, log
# files): a leak shows up here by module and kind, long before a late test's
# heartbeat thread fails with "Too many open files".

_DESCRIPTORS = []


def _open_descriptors():
    kinds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target and not target.startswith("/") else "file"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@pytest.fixture(autouse=True, scope="module")
def _descriptor_accounting(request):
    import gc

    before = _open_descriptors()
    yield
    gc.collect()
    after = _open_descriptors()
    grown = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) > before.get(k, 0)}
    _DESCRIPTORS.append((request.module.__name__, sum(after.values()), grown))


def pytest_terminal_summary(terminalreporter):
    if not _DESCRIPTORS:
        return
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    lines = [f"{name}: {total} open, grew {grown}" for name, total, grown in _DESCRIPTORS]
    (artifacts / "descriptors.txt").write_text("\n".join(lines) + "\n")
    leaky = [(name, grown) for name, _, grown in _DESCRIPTORS if sum(grown.values()) > 8]
    if leaky:
        terminalreporter.write_line(f"descriptors left open by: {leaky} (tests/artifacts/descriptors.txt)")
