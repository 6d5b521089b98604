"""Where Spark comes from in tests and benches: the pinned pyspark in the
project venv (its jars hold the Spark Connect server)."""

import os
import time
from pathlib import Path


def spark_home():
    import pyspark

    return str(Path(pyspark.__file__).parent)


def spark_env(seaweed, credentials):
    """A kernel environment with S3 credentials and Spark."""
    env = seaweed.env_for(credentials)
    env["SPARK_HOME"] = spark_home()
    if os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return env


def wait_for_class_archive(cache_home, timeout=240):
    """The Spark class archive a kernel builds under `cache_home`
    (XDG_CACHE_HOME) after its first session; fails with the dump's output
    if the dump failed, or after `timeout` seconds."""
    slots = Path(cache_home) / "quarry" / "spark-cds"
    deadline = time.monotonic() + timeout
    while not (built := list(slots.glob("*.jsa"))):
        failed = list(slots.glob("*.failed"))
        assert not failed, failed[0].read_text()[-2000:]
        listing = sorted(p.name for p in slots.iterdir()) if slots.exists() else []
        assert time.monotonic() < deadline, f"no archive after {timeout} s: {listing}"
        time.sleep(1)
    return built[0]
