"""What the Dockerfiles in images/ run, run here (no Docker engine): the
lint, the wheel build and the single-user install into a fresh prefix."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "images"
VENV_BIN = Path(sys.executable).parent


def run(*args, **kwargs):
    env = {**os.environ, "PYTHON": sys.executable, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env, **kwargs)


def test_dockerfiles_pass_hadolint():
    dockerfiles = sorted(IMAGES.glob("*/Dockerfile"))
    assert {p.parent.name for p in dockerfiles} == {"singleuser", "spark-executor"}
    run(str(VENV_BIN / "hadolint"), "--config", str(IMAGES / ".hadolint.yaml"), *map(str, dockerfiles))


def test_dockerfiles_copy_only_what_exists():
    for dockerfile in IMAGES.glob("*/Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
                sources = [w for w in words[1:-1] if not w.startswith("--")]
                for source in sources:
                    assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source} does not exist"


def test_the_frontend_script_leaves_the_prebuilt_extension_the_wheel_stage_copies(tmp_path):
    """The image's frontend stage; its wheel stage copies this folder."""
    run(str(IMAGES / "scripts" / "build-wheel.sh"), str(tmp_path / "out"))
    prebuilt = ROOT / "labextension/quarry_jupyterlab/labextension"
    assert json.loads((prebuilt / "package.json").read_text())["name"] == "quarry-jupyterlab"
    assert "COPY --from=frontend /tmp/src/labextension/quarry_jupyterlab/labextension" in (IMAGES / "singleuser/Dockerfile").read_text()


def test_singleuser_install_script_sets_up_a_prefix(quarry_wheel, tmp_path):
    prefix = tmp_path / "prefix"
    run(str(IMAGES / "scripts" / "install-singleuser.sh"), str(quarry_wheel.parent), str(prefix))
    assert (prefix / "bin" / "quarry").stat().st_mode & 0o111
    spec = json.loads((prefix / "share/jupyter/kernels/quarry/kernel.json").read_text())
    assert spec["argv"][:3] == ["python", "-m", "quarry_jupyterlab"] and spec["language"] == "sql"
    extension = prefix / "share/jupyter/labextensions/quarry-jupyterlab"
    assert json.loads((extension / "package.json").read_text())["name"] == "quarry-jupyterlab"
    assert json.loads((extension / "install.json").read_text())["packageName"] == "quarry-jupyter"
    server_config = json.loads((prefix / "etc/jupyter/jupyter_server_config.d/quarry_jupyterlab.json").read_text())
    assert server_config["ServerApp"]["jpserver_extensions"]["quarry_jupyterlab.token_refresh"] is True
    (entry_points,) = prefix.glob("lib/python*/site-packages/quarry_jupyter-*.dist-info/entry_points.txt")
    assert "quarry=quarry_jupyterlab:setup_quarry_server" in entry_points.read_text().replace(" ", "")
    aws_config = (prefix / "etc/quarry/aws-config").read_text()
    assert aws_config == f"[default]\ncredential_process = {prefix}/bin/quarry aws-credentials\n"


def test_install_spark_script_links_a_working_spark(tmp_path):
    # The project venv already holds the pinned pyspark, so pip only checks
    # it; the Maven jars (hadoop-aws, AWS SDK bundle) are unreachable here.
    spark_home = tmp_path / "opt" / "spark"
    env = {**os.environ, "PYTHON": sys.executable, "QUARRY_SKIP_MAVEN": "1"}
    out = subprocess.run(
        ["bash", str(IMAGES / "scripts" / "install-spark.sh"), str(spark_home)],
        check=True, capture_output=True, text=True, env=env,
    )
    assert "spark-connect_2.13-4.3.0.jar" in out.stdout
    version = subprocess.run(
        [str(spark_home / "bin" / "spark-submit"), "--version"],
        capture_output=True, text=True, env={**os.environ, "SPARK_HOME": str(spark_home)}, timeout=120,
    )
    assert "version 4.3.0" in version.stdout + version.stderr
    # Both images pin the same Spark the script installs.
    for dockerfile in ("singleuser", "spark-executor"):
        assert "install-spark.sh" in (IMAGES / dockerfile / "Dockerfile").read_text(), dockerfile
