"""Where Spark comes from in tests and benches: the pinned pyspark in the
project venv (its jars hold the Spark Connect server)."""

import os
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
