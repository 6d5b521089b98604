"""SeaweedFS (`weed mini`) with S3 and STS on loopback, for tests.

Signatures (SigV4), session tokens and bucket policies are enforced by the
real server. STS trusts the test OIDC issuer: AssumeRoleWithWebIdentity
checks each token against the issuer's JWKS.
"""

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config

from .ports import free_ports, wait_for_port
from .processes import stop_process

ADMIN_KEY = "quarrytestadmin"
ADMIN_SECRET = "quarry-test-admin-secret-value"
ROLE_ARN = "arn:aws:iam::role/QuarryUser"


def weed_binary():
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("`weed` not found: run the tests through `cargo xtask test`")
    return found


def user_policy(buckets, extra_statements=()):
    resources = []
    for bucket in buckets:
        resources += [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": resources},
            {"Effect": "Allow", "Action": ["sts:ValidateSession"], "Resource": ["*"]},
            *extra_statements,
        ],
    }


class Seaweed:
    """A running SeaweedFS. `user_buckets` are the ones the STS role may use."""

    def __init__(self, workdir, issuer, user_buckets=("data", "demo"), max_session="12h", claim_policies=None,
                 extra_statements=()):
        """`max_session` caps every STS session: "20s" makes credentials
        that really expire during a test. `claim_policies` ({name: buckets})
        turns on MinIO-style claim mode: the token's `policy` claim names
        the policy, and AssumeRoleWithWebIdentity needs no RoleArn.
        `extra_statements` are added to the role's policy."""
        self.extra_statements = list(extra_statements)
        self.dir = Path(workdir)
        self.claim_policies = dict(claim_policies or {})
        self.max_session = max_session
        self.issuer = issuer
        self.user_buckets = list(user_buckets)
        self.process = None
        ports = free_ports(8)
        self.s3_port = ports[6]
        self._ports = ports
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"

    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": ADMIN_KEY, "secretKey": ADMIN_SECRET}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        iam = {
            "sts": {
                "tokenDuration": "1h",
                "maxSessionLength": self.max_session,
                "issuer": "seaweedfs-sts",
                "signingKey": base64.b64encode(os.urandom(32)).decode(),
            },
            "providers": [
                {
                    "name": "test-oidc",
                    "type": "oidc",
                    "enabled": True,
                    "config": {
                        "issuer": self.issuer.url,
                        "clientId": self.issuer.client_id,
                        "jwksUri": getattr(self.issuer, "jwks_uri", f"{self.issuer.url}/jwks"),
                        **({"policyClaim": "policy"} if self.claim_policies else {}),
                    },
                }
            ],
            "policy": {"defaultEffect": "Deny", "storeType": "memory"},
            "roles": [
                {
                    "roleName": "QuarryUser",
                    "roleArn": ROLE_ARN,
                    "trustPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Federated": "test-oidc"},
                                "Action": ["sts:AssumeRoleWithWebIdentity"],
                            }
                        ],
                    },
                    "attachedPolicies": ["QuarryUserPolicy"],
                }
            ],
            "policies": [{"name": "QuarryUserPolicy", "document": user_policy(self.user_buckets, self.extra_statements)}]
            + [{"name": name, "document": user_policy(buckets)} for name, buckets in self.claim_policies.items()],
        }
        (self.dir / "identities.json").write_text(json.dumps(identities))
        (self.dir / "iam.json").write_text(json.dumps(iam))
        p = self._ports
        args = [
            weed_binary(), "mini", f"-dir={self.dir / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-master.port={p[0]}", f"-master.port.grpc={p[1]}",
            f"-volume.port={p[2]}", f"-volume.port.grpc={p[3]}",
            f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}",
            f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}",
            f"-s3.config={self.dir / 'identities.json'}",
            f"-s3.iam.config={self.dir / 'iam.json'}",
        ]
        self._log = open(self.dir / "weed.log", "wb")
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.s3_port, timeout=90, process=self.process, what="SeaweedFS")
            self._wait_until_serving()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        stop_process(self.process)
        if getattr(self, "_log", None):
            self._log.close()

    def _wait_until_serving(self, timeout=60):
        # S3 opens its port before the filer is registered; bucket creation
        # is the first thing that proves the whole stack is ready.
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                self.admin().list_buckets()
                return
            except Exception as e:  # noqa: BLE001 - any failure means "not yet"
                last = e
                time.sleep(0.3)
        raise TimeoutError(f"SeaweedFS S3 did not become ready: {last}")

    def admin(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_SECRET,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def create_bucket(self, name):
        client = self.admin()
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        except client.exceptions.BucketAlreadyExists:
            pass

    def assume_role(self, token, duration=3600, session_name="quarry-test"):
        """Temporary credentials for `token`, exactly as the hub's pre-spawn
        hook gets them (unsigned AssumeRoleWithWebIdentity on the S3 port)."""
        sts = boto3.client("sts", endpoint_url=self.endpoint, region_name="us-east-1")
        response = sts.assume_role_with_web_identity(
            RoleArn=ROLE_ARN,
            RoleSessionName=session_name,
            WebIdentityToken=token,
            DurationSeconds=duration,
        )
        return response["Credentials"]

    def env_for(self, credentials):
        """The credentials contract (DESIGN.md) for a kernel's environment."""
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "AWS_CREDENTIAL_EXPIRATION": credentials["Expiration"].isoformat(),
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_REGION": "us-east-1",
        }
