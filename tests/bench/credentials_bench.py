"""What a Python notebook pays for keys that renew themselves: boto3's first
S3 call, and a call that renews its keys, through `quarry aws-credentials`
(the AWS config file's `credential_process`, what the platform ships) side
by side with static keys in the environment and with botocore's own
web-identity provider (role mode), against SeaweedFS with real STS.

Each sample is a fresh Python process (`import boto3` is not timed):
the first call is `boto3.client("s3")` plus one `list_objects_v2`, the
warm call a second `list_objects_v2`. For renewals SeaweedFS caps sessions
at 10 minutes, inside botocore's mandatory refresh window, so every call
renews its keys first (static keys never renew). Sources alternate, so
machine load affects them alike; medians of several runs, ratios to
static keys.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support.oidc import OidcIssuer  # noqa: E402
from support.seaweed import ROLE_ARN, Seaweed  # noqa: E402

PROBE = r"""
import json, time
import boto3
t = time.perf_counter()
s3 = boto3.client("s3")
s3.list_objects_v2(Bucket="data")
first = time.perf_counter() - t
calls = []
for _ in range(5):
    t = time.perf_counter()
    s3.list_objects_v2(Bucket="data")
    calls.append(time.perf_counter() - t)
print(json.dumps({"first": first, "next": sorted(calls)[2]}))
"""


def environments(s3, oidc, quarry, workdir):
    """Each credential source's process environment for alice."""
    token_file = workdir / "token"
    token_file.write_text(oidc.mint("alice", lifetime=3600))
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL_S3": s3.endpoint, "AWS_ENDPOINT_URL_STS": s3.endpoint, "AWS_REGION": "us-east-1"}
    config = workdir / "aws-config"
    config.write_text(f"[default]\ncredential_process = {quarry} aws-credentials --role-arn {ROLE_ARN}\n")
    keys = s3.assume_role(oidc.mint("alice"))
    return {
        "static keys": {**base, "AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
                        "AWS_SESSION_TOKEN": keys["SessionToken"], "AWS_CONFIG_FILE": str(workdir / "none")},
        "quarry aws-credentials": {**base, "AWS_CONFIG_FILE": str(config), "QUARRY_WEB_IDENTITY_TOKEN_FILE": str(token_file)},
        "botocore web identity": {**base, "AWS_ROLE_ARN": ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
                                  "AWS_CONFIG_FILE": str(workdir / "none")},
    }


def sample(env):
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout)


def measure(s3, oidc, quarry, workdir, runs):
    envs = environments(s3, oidc, quarry, workdir)
    results = {name: [] for name in envs}
    for _ in range(runs):
        for name, env in envs.items():
            results[name].append(sample(env))
    return {name: {key: statistics.median(r[key] for r in rs) for key in ("first", "next")} for name, rs in results.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, OidcIssuer() as oidc:
        tmp = Path(tmp)
        tables = {}
        for label, session in (("hour-long sessions", "1h"), ("10-minute sessions: every call renews", "10m")):
            workdir = tmp / session
            workdir.mkdir()
            with Seaweed(workdir / "s3", oidc, user_buckets=("data",), max_session=session) as s3:
                s3.create_bucket("data")
                s3.admin().put_object(Bucket="data", Key="hello.txt", Body=b"hi")
                tables[label] = measure(s3, oidc, args.quarry, workdir, args.runs)
    lines = ["## Python's S3 credentials: boto3 through `quarry aws-credentials`", "",
             f"Median of {args.runs} fresh processes per source, sources alternating.", ""]
    for label, table in tables.items():
        static = table["static keys"]
        lines += [f"### {label}", "", "| source | first call (client + list) | ratio | later call | ratio |", "|---|---|---|---|---|"]
        for name, r in table.items():
            lines.append(f"| {name} | {r['first'] * 1000:.0f} ms | {r['first'] / static['first']:.2f}× "
                         f"| {r['next'] * 1000:.1f} ms | {r['next'] / static['next']:.2f}× |")
        lines.append("")
    report = "\n".join(lines)
    (out / "credentials.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
