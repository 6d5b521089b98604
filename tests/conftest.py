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


def pytest_configure(config):
    quarry = config.getoption("--quarry")
    if not quarry or not Path(quarry).is_file():
        raise pytest.UsageError("pass --quarry=PATH (cargo xtask test does) or set QUARRY_BIN")
    os.environ["QUARRY_BIN"] = quarry
    # jupyter_kernel_test's classes find the kernelspec by name at import.
    install_kernelspec(quarry)


@pytest.fixture(scope="session")
def quarry_bin():
    return os.environ["QUARRY_BIN"]


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
