"""The kernel's wire under hostile traffic, driven by hypothesis: random
unsigned frames and random well-signed messages on shell, control and
stdin. The kernel never dies, never runs an unsigned (or wrongly signed)
request, and still answers a normal client afterwards."""

import json
import os

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jupyter_client.session import Session

from support.kernels import rows_of, run_cell, start_quarry, stop

EXAMPLES = int(os.environ.get("QUARRY_FUZZ_EXAMPLES", "25")) * 20
CHANNELS = ("shell", "control", "stdin")
# A cell that leaves a trace if it ever runs.
TRACE = "CREATE TABLE forged_{n} AS SELECT 1 AS x"


@pytest.fixture(scope="module")
def kernel():
    km, kc = start_quarry()
    sockets = {}
    context = zmq.Context()
    for channel in CHANNELS:
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(f"tcp://{km.ip}:{getattr(km, f'{channel}_port')}")
        sockets[channel] = socket
    yield km, kc, sockets
    for socket in sockets.values():
        socket.close()
    context.term()
    stop(km, kc)


def drain(sockets):
    for socket in sockets.values():
        while socket.poll(0):
            socket.recv_multipart()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
msg_types = st.sampled_from([
    "execute_request", "kernel_info_request", "complete_request", "inspect_request", "history_request",
    "is_complete_request", "comm_info_request", "comm_open", "comm_msg", "interrupt_request",
    "input_reply", "shutdown_request_", "frobnicate_request",
]) | st.text(max_size=30)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channel=st.sampled_from(CHANNELS), frames=st.lists(st.binary(max_size=300), min_size=1, max_size=8), marker=st.booleans())
def test_random_frames_are_dropped(kernel, channel, frames, marker):
    km, _, sockets = kernel
    if marker:  # a plausible envelope around garbage
        frames = [b"<IDS|MSG>", *frames]
    sockets[channel].send_multipart(frames)
    assert km.is_alive()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channel=st.sampled_from(CHANNELS), msg_type=msg_types, content=json_values, n=st.integers(0, 10**6))
def test_wrongly_signed_requests_never_run(kernel, channel, msg_type, content, n):
    km, _, sockets = kernel
    forger = Session(key=b"not-the-kernel-key")
    forger.send(sockets[channel], "execute_request", {"code": TRACE.format(n=n), "silent": False})
    forger.send(sockets[channel], msg_type, content if isinstance(content, dict) else {"value": content})
    unsigned = Session(key=b"")
    unsigned.send(sockets[channel], "execute_request", {"code": TRACE.format(n=n), "silent": False})
    assert km.is_alive()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(channel=st.sampled_from(CHANNELS), msg_type=msg_types, content=json_values)
def test_well_signed_random_messages_do_not_kill_the_kernel(kernel, channel, msg_type, content):
    km, kc, sockets = kernel
    if msg_type.startswith("shutdown"):
        msg_type = "frobnicate_request"
    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
    body = content if isinstance(content, dict) else {"value": content}
    if msg_type == "execute_request":
        body = {**body, "code": "SELECT 1", "silent": True}  # never a trace
    session.send(sockets[channel], msg_type, body)
    assert km.is_alive()


def test_afterwards_the_kernel_answers_and_nothing_forged_ran(kernel):
    km, kc, sockets = kernel
    drain(sockets)
    reply, outputs = run_cell(kc, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'forged_%'")
    assert reply["status"] == "ok", reply
    assert rows_of(outputs) == [{"n": 0}]
    assert km.is_alive()
    info = kc.kernel_info(reply=True, timeout=10)
    assert info["content"]["implementation"] == "quarry"
    print(json.dumps({"examples_per_property": EXAMPLES}))
