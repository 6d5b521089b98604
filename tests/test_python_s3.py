"""Python notebooks on the platform read and write S3 with the tools people
already use — boto3, pandas through s3fs, polars, pyarrow — from exactly the
environment the hub hook gives a pod (images/hub/quarry_hub_hook.py) plus
the AWS config file the image ships, whose `credential_process` is
`quarry aws-credentials`: no keys in code, in the environment or on disk,
and keys that renew by themselves.

SeaweedFS runs in MinIO's claim mode (the shipped values: no role; the
token's `policy` claim names the policy) and caps STS sessions at 20 s, so
the first keys really end while the same Python process keeps working."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support.seaweed import ROLE_ARN, Seaweed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "images" / "hub"))
import quarry_hub_hook  # noqa: E402

SESSION_SECONDS = 20

SCRIPT = r'''
import json, os, sys, time
import boto3, pandas as pd, polars as pl
import pyarrow.fs as pafs
from botocore.exceptions import ClientError

tools = sys.argv[2].split(",")
out = {}
s3 = boto3.client("s3")
# pyarrow reads no endpoint from the environment (apache/arrow#49643): the
# README's one documented step.
arrow = pafs.S3FileSystem(endpoint_override=os.environ["AWS_ENDPOINT_URL_S3"])

def round_(tag):
    s3.put_object(Bucket="data", Key=f"py/{tag}/boto3.txt", Body=b"hello")
    out[f"{tag}.boto3"] = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix=f"py/{tag}/boto3")["Contents"]]
    pd.DataFrame({"n": [1, 2, 3]}).to_csv(f"s3://data/py/{tag}/pandas.csv", index=False)
    out[f"{tag}.pandas"] = int(pd.read_csv(f"s3://data/py/{tag}/pandas.csv")["n"].sum())
    with arrow.open_output_stream(f"data/py/{tag}/arrow.txt") as f:
        f.write(b"four")
    out[f"{tag}.pyarrow"] = arrow.open_input_stream(f"data/py/{tag}/arrow.txt").read().decode()
    if "polars" in tools:
        pl.DataFrame({"n": [4, 5]}).write_parquet(f"s3://data/py/{tag}/polars.parquet")
        out[f"{tag}.polars"] = int(pl.read_parquet(f"s3://data/py/{tag}/polars.parquet")["n"].sum())
    try:
        s3.list_objects_v2(Bucket="other")
        out[f"{tag}.other"] = "listed"
    except ClientError as e:
        out[f"{tag}.other"] = e.response["Error"]["Code"]

round_("first")
if float(sys.argv[1]) > 0:
    time.sleep(float(sys.argv[1]))
    round_("second")
print(json.dumps(out))
'''


def claim_mode_s3(oidc, workdir, max_session):
    """SeaweedFS in MinIO's claim mode (no role; the `policy` claim names
    the policy), as the shipped values expect."""
    server = Seaweed(workdir, oidc, user_buckets=("data",), max_session=max_session, claim_policies={"data-rw": ["data"]})
    server.__enter__()
    try:
        server.create_bucket("data")
        server.create_bucket("other")
        server.admin().put_object(Bucket="other", Key="secret.txt", Body=b"not yours")
    except BaseException:
        server.__exit__(None, None, None)
        raise
    return server


@pytest.fixture(scope="module")
def sts(oidc, tmp_path_factory):
    """Hour-long sessions, as on the platform."""
    server = claim_mode_s3(oidc, tmp_path_factory.mktemp("python-s3"), "1h")
    yield server
    server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def short_sts(oidc, tmp_path_factory):
    """Sessions that end during the test."""
    server = claim_mode_s3(oidc, tmp_path_factory.mktemp("python-s3-short"), f"{SESSION_SECONDS}s")
    yield server
    server.__exit__(None, None, None)


def pod_environment(sts, tmp_path, quarry_bin, oidc, credential_process, token=None):
    """What the hub hook gives alice's pod (claim mode, as values.yaml ships
    it), with the image's AWS config file as the test installs it."""
    token_file = tmp_path / "web-identity-token"
    token_file.write_text(token or oidc.mint("alice", lifetime=3600, policy="data-rw"))
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\ncredential_process = {credential_process}\n")
    settings = quarry_hub_hook.Settings(
        s3_endpoint=sts.endpoint, sts_endpoint=sts.endpoint, token_file=str(token_file), aws_config_file=str(config)
    )
    env = quarry_hub_hook.environment_for(settings, "alice")
    assert "AWS_ROLE_ARN" not in env and "AWS_WEB_IDENTITY_TOKEN_FILE" not in env, "claim mode, as shipped"
    home = tmp_path / "home"
    home.mkdir()
    return {**env, "HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}, config


def run_python(env, tmp_path, tools, wait=0):
    script = tmp_path / "notebook.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), str(wait), ",".join(tools)], env=env, capture_output=True, text=True, timeout=300)


def test_boto3_pandas_polars_and_pyarrow_read_and_write_the_users_bucket_only(sts, tmp_path, quarry_bin, oidc):
    env, config = pod_environment(sts, tmp_path, quarry_bin, oidc, f"{quarry_bin} aws-credentials")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert key not in env
    done = run_python(env, tmp_path, ["polars"])
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {
        "first.boto3": ["py/first/boto3.txt"], "first.pandas": 6, "first.pyarrow": "four",
        "first.polars": 9, "first.other": "AccessDenied",
    }
    # No key on disk: the config names a command, the token file a JWT.
    assert "aws_access_key_id" not in config.read_text().lower()
    written = [p for p in Path(env["HOME"]).rglob("*") if p.is_file()]
    assert not [p for p in written if "credentials" in p.name], written


def test_the_same_process_keeps_working_after_its_first_keys_end(short_sts, tmp_path, quarry_bin, oidc):
    """boto3, s3fs and pyarrow ask the source again as keys near their end.
    (polars reads boto3's keys one property at a time, so with sessions
    shorter than botocore's 10-minute refresh window — only in a test —
    each property comes from another exchange; with hour-long sessions it
    renews once, like the others.)"""
    env, _ = pod_environment(short_sts, tmp_path, quarry_bin, oidc, f"{quarry_bin} aws-credentials")
    done = run_python(env, tmp_path, [], wait=SESSION_SECONDS + 5)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for tag in ("first", "second"):
        assert out[f"{tag}.boto3"] == [f"py/{tag}/boto3.txt"], out
        assert out[f"{tag}.pandas"] == 6 and out[f"{tag}.pyarrow"] == "four", out
        assert out[f"{tag}.other"] == "AccessDenied", out


def test_a_refused_exchange_reaches_python_as_the_sdks_error_with_quarrys_sentence(sts, tmp_path, quarry_bin, oidc):
    """A token STS refuses (issued for another client): boto3 runs `quarry
    aws-credentials`, and the user sees Quarry's sentence in boto3's own
    error — not a hang, not a guess about missing keys."""
    refused = oidc.mint("alice", lifetime=3600, policy="data-rw", audience="someone-else")
    env, _ = pod_environment(sts, tmp_path, quarry_bin, oidc, f"{quarry_bin} aws-credentials", token=refused)
    probe = "import boto3\ntry:\n    boto3.client('s3').list_buckets()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("CredentialRetrievalError"), done.stdout
    assert "custom-process" in done.stdout and "quarry: no S3 credentials: " in done.stdout, done.stdout
    assert refused[:40] not in done.stdout


def test_the_credential_source_prints_what_sdks_read_and_nothing_to_stderr(sts, tmp_path, quarry_bin, oidc):
    env, _ = pod_environment(sts, tmp_path, quarry_bin, oidc, "unused")
    done = subprocess.run([quarry_bin, "aws-credentials"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert set(answer) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert answer["Version"] == 1 and answer["Expiration"].endswith("Z")
    assert done.stderr == "", "logs would end up in the SDK's error text"
    # An S3 server that needs a role the pod does not name: --role-arn.
    done = subprocess.run([quarry_bin, "aws-credentials", "--role-arn", ROLE_ARN], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout)["Version"] == 1, done.stderr


#: The aws CLI in a venv of its own: every awscli release pins one botocore,
#: and none pins the one boto3 in the suite's venv needs.
AWSCLI = "awscli==1.46.3"


def test_the_aws_cli_lists_copies_and_is_refused_like_boto3(sts, tmp_path, quarry_bin, oidc):
    """The aws CLI reads the same config file's credential_process and the
    endpoint from AWS_ENDPOINT_URL_S3: no keys, no flags."""
    cli_venv = tmp_path / "awscli"
    subprocess.run([sys.executable, "-m", "venv", str(cli_venv)], check=True)
    subprocess.run([str(cli_venv / "bin" / "pip"), "install", "--quiet", AWSCLI], check=True, timeout=600)
    aws = str(cli_venv / "bin" / "aws")
    env, _ = pod_environment(sts, tmp_path, quarry_bin, oidc, f"{quarry_bin} aws-credentials")
    copied = subprocess.run([aws, "s3", "cp", "-", "s3://data/cli/hello.txt"], input="from the CLI", env=env,
                            capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    listed = subprocess.run([aws, "s3", "ls", "s3://data/cli/"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "hello.txt" in listed.stdout, listed.stderr
    read = subprocess.run([aws, "s3", "cp", "s3://data/cli/hello.txt", "-"], env=env, capture_output=True, text=True, timeout=120)
    assert read.stdout == "from the CLI", read.stderr
    refused = subprocess.run([aws, "s3", "ls", "s3://other/"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
