"""Credentials that expire while the kernel runs.

This SeaweedFS caps STS sessions at 20 seconds, so the temporary
credentials really stop working during the test (the server then answers
InvalidAccessKeyId), exactly like a platform's 1-hour credentials at the
end of a long working session.
"""

import re
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from support.kernels import rows_of, run_cell, start_quarry, stop
from support.seaweed import ROLE_ARN, Seaweed

SESSION = 20


@pytest.fixture(scope="module")
def short_sts(oidc, tmp_path_factory):
    with Seaweed(tmp_path_factory.mktemp("seaweed-short"), oidc, max_session=f"{SESSION}s") as server:
        server.create_bucket("data")
        server.admin().put_object(Bucket="data", Key="hello.csv", Body=b"greeting,n\nhello,1\nworld,2\n")
        yield server


def old_credentials_work(server, credentials):
    client = boto3.client(
        "s3", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    try:
        client.list_objects_v2(Bucket="data")
        return True
    except ClientError:
        return False


def test_kernel_renews_from_the_token_file_and_explains_when_it_cannot(short_sts, oidc, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(oidc.mint("alice", lifetime=3600))
    bad_token_file = tmp_path / "bad-token"
    bad_token_file.write_text(oidc.mint("alice", lifetime=3600, audience="someone-else"))

    credentials = short_sts.assume_role(oidc.mint("alice"), duration=900)
    base = short_sts.env_for(credentials)
    renewing = start_quarry(env={**base, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": ROLE_ARN})
    stuck = start_quarry(env=base)
    failing = start_quarry(env={**base, "AWS_WEB_IDENTITY_TOKEN_FILE": str(bad_token_file), "AWS_ROLE_ARN": ROLE_ARN})
    kernels = [renewing, stuck, failing]
    try:
        query = "SELECT sum(n) AS total FROM 's3://data/hello.csv'"
        for km, kc in kernels:
            reply, outputs = run_cell(kc, query)
            assert reply["status"] == "ok", reply
            assert rows_of(outputs) == [{"total": 3}]

        time.sleep(SESSION + 5)
        assert not old_credentials_work(short_sts, credentials), "the server should have expired them"

        reply, outputs = run_cell(renewing[1], query)
        assert reply["status"] == "ok", reply
        assert rows_of(outputs) == [{"total": 3}]
        # The AWS SDK client behind %s3 signs with the renewed keys too.
        reply, outputs = run_cell(renewing[1], "%s3 ls s3://data/")
        assert reply["status"] == "ok", reply
        assert "s3://data/hello.csv" in outputs[0]["content"]["data"]["text/plain"]
        reply, outputs = run_cell(renewing[1], "%s3 whoami")
        assert "web identity" in outputs[0]["content"]["data"]["text/plain"]

        expiry = credentials["Expiration"].strftime("%Y-%m-%d %H:%M:%S UTC")
        reply, _ = run_cell(stuck[1], query)
        assert reply["ename"] == "S3CredentialsError", reply
        assert f"expired at {expiry} and nothing can renew them" in reply["evalue"]

        reply, _ = run_cell(failing[1], query)
        assert reply["ename"] == "S3CredentialsError", reply
        assert f"expired at {expiry} and renewing them failed (STS refused the token" in reply["evalue"]
        for secret in (credentials["SecretAccessKey"], credentials["SessionToken"], bad_token_file.read_text()):
            assert secret not in reply["evalue"]
    finally:
        for km, kc in kernels:
            stop(km, kc)


def test_a_token_the_refresher_stopped_replacing_is_named_by_whoami(short_sts, oidc, tmp_path, quarry_bin):
    """The refresher failed (a full disk, say) and the file still holds an
    expired ID token: the current keys work, and both `%s3 whoami` and the
    panel's `api/whoami` say the keys will not renew, and why."""
    import json
    import subprocess
    import urllib.request

    from support.kernels import minimal_env
    from support.ports import free_ports, wait_for_port
    from support.processes import stop_process

    token_file = tmp_path / "token"
    stale = oidc.mint("alice", lifetime=-120)
    token_file.write_text(stale)
    credentials = short_sts.assume_role(oidc.mint("alice"), duration=900)
    env = {**short_sts.env_for(credentials), "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": ROLE_ARN}
    km, kc = start_quarry(env=env)
    try:
        reply, outputs = run_cell(kc, "%s3 whoami")
        assert reply["status"] == "ok", reply
        text = outputs[0]["content"]["data"]["text/plain"]
        assert re.search(rf"ID token +{re.escape(str(token_file))}, expired .*: not replaced", text), text
        assert f"The ID token in {token_file} expired at " in text
        assert "the token refresher may be failing (a full disk, or the hub unreachable)" in text
        assert stale not in text
    finally:
        stop(km, kc)

    (port,) = free_ports(1)
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([quarry_bin, "serve", "--port", str(port)], env=minimal_env(env), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, process=server, what="quarry serve")
        answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/whoami", timeout=30))
        assert answer["credentials"]["temporary"] is True, "the current keys still work"
        assert answer["id_token"]["path"] == str(token_file)
        assert answer["id_token"]["seconds_left"] < 0
        assert answer["problem"].startswith(f"The ID token in {token_file} expired at ")
        assert stale not in json.dumps(answer)
    finally:
        stop_process(server)
        log.close()


def test_sts_down_during_renewal_keeps_serving_then_says_why_and_recovers(short_sts, oidc, tmp_path):
    """STS goes away (connections reset) just as the keys are due: queries
    keep running on the current keys, `%s3 whoami` says renewal is failing
    and until when the keys work, and once STS is back the next renewal
    gets new keys before the old ones expire."""
    from urllib.parse import urlparse

    from support.outage import Outage

    token_file = tmp_path / "token"
    token_file.write_text(oidc.mint("alice", lifetime=3600))
    with Outage(urlparse(short_sts.endpoint).port) as sts:
        sts.cut()
        credentials = short_sts.assume_role(oidc.mint("alice"), duration=900)
        env = {
            **short_sts.env_for(credentials),
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_ARN": ROLE_ARN,
            "AWS_ENDPOINT_URL_STS": sts.url,
        }
        km, kc = start_quarry(env=env)
        try:
            query = "SELECT sum(n) AS total FROM 's3://data/hello.csv'"
            expires = credentials["Expiration"].timestamp()
            # Into the last fifth of the keys' life: renewal is due.
            time.sleep(max(0.0, expires - time.time() - 2.5))
            reply, outputs = run_cell(kc, query)
            assert reply["status"] == "ok", reply
            assert rows_of(outputs) == [{"total": 3}]
            deadline = time.monotonic() + 2
            while True:
                reply, outputs = run_cell(kc, "%s3 whoami")
                text = outputs[0]["content"]["data"]["text/plain"]
                if "is failing" in text or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert sts.refused >= 1, "the kernel never tried STS"
            assert "Renewing the S3 credentials is failing (could not reach STS" in text, text
            assert "the current keys work until" in text and "Quarry keeps retrying" in text, text
            for secret in (credentials["SecretAccessKey"], credentials["SessionToken"], token_file.read_text()):
                assert secret not in text

            sts.restore()
            time.sleep(max(0.0, expires - time.time() + 3))
            assert not old_credentials_work(short_sts, credentials), "the server should have expired them"
            reply, outputs = run_cell(kc, query)
            assert reply["status"] == "ok", reply
            assert rows_of(outputs) == [{"total": 3}]
            reply, outputs = run_cell(kc, "%s3 whoami")
            text = outputs[0]["content"]["data"]["text/plain"]
            assert "web identity" in text and "is failing" not in text, text
        finally:
            stop(km, kc)
