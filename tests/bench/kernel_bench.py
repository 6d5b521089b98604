"""Kernel start-up, round trip and idle memory: Quarry vs ipykernel.

Both kernels are measured in the same run, alternating, so machine load
affects them alike. Reports medians and ratios (Quarry / ipykernel).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq
from jupyter_client import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from support.kernels import install_kernelspec, minimal_env  # noqa: E402
from support.processes import rss_mib  # noqa: E402

TRIVIAL = {"quarry": "SELECT 1", "python3": "1"}


def one_start(kernel):
    """Seconds from launching the kernel to its first kernel_info_reply, and
    to jupyter_client's wait_for_ready (which always adds a 0.2 s IOPub
    flush, whatever the kernel)."""
    km = KernelManager(kernel_name=kernel)
    # zmq retries a refused connect every 100 ms by default; a short retry
    # interval (same for both kernels) measures the kernel, not the client.
    km.context.setsockopt(zmq.RECONNECT_IVL, 2)
    started = time.perf_counter()
    km.start_kernel(env=minimal_env())
    kc = km.client()
    kc.start_channels()
    msg_id = kc.kernel_info()
    while True:
        reply = kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    first_reply = time.perf_counter() - started
    kc.wait_for_ready(timeout=60)
    ready = time.perf_counter() - started
    return km, kc, first_reply, ready


def round_trips(kc, code, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        kc.execute_interactive(code, timeout=30, output_hook=lambda msg: None)
        times.append(time.perf_counter() - t)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quarry", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--executes", type=int, default=50)
    args = parser.parse_args()
    install_kernelspec(args.quarry)
    # ipykernel's spec from the venv.
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", tempfile.gettempdir() + "/quarry-bench-ipy"], check=True, capture_output=True)
    import os
    os.environ["JUPYTER_PATH"] = tempfile.gettempdir() + "/quarry-bench-ipy/share/jupyter" + os.pathsep + os.environ["JUPYTER_PATH"]

    results = {k: {"start_s": [], "ready_s": [], "execute_s": [], "idle_rss_mib": []} for k in ("quarry", "python3")}
    for i in range(args.starts):
        for kernel in ("quarry", "python3"):
            km, kc, first_reply, ready = one_start(kernel)
            results[kernel]["start_s"].append(first_reply)
            results[kernel]["ready_s"].append(ready)
            time.sleep(0.5)
            results[kernel]["idle_rss_mib"].append(rss_mib(km.provisioner.process.pid))
            if i == 0:
                round_trips(kc, TRIVIAL[kernel], 5)  # warm-up
                results[kernel]["execute_s"] = round_trips(kc, TRIVIAL[kernel], args.executes)
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    summary = {}
    for kernel, r in results.items():
        summary[kernel] = {k: statistics.median(v) for k, v in r.items()}
    rows = [
        ("start → kernel_info_reply", "start_s", 1000, "ms"),
        ("start → wait_for_ready() returns (incl. 0.2 s IOPub flush)", "ready_s", 1000, "ms"),
        ("trivial execute round trip", "execute_s", 1000, "ms"),
        ("idle RSS", "idle_rss_mib", 1, "MiB"),
    ]
    lines = [
        "| metric | Quarry | ipykernel | Quarry / ipykernel |",
        "|---|---|---|---|",
    ]
    for label, key, scale, unit in rows:
        q, p = summary["quarry"][key] * scale, summary["python3"][key] * scale
        lines.append(f"| {label} | {q:.1f} {unit} | {p:.1f} {unit} | {q / p:.3f} |")
    note = f"\nMedians: {args.starts} starts each (alternating), {args.executes} round trips each.\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernel.md").write_text("\n".join(lines) + "\n" + note)
    (out / "kernel.json").write_text(json.dumps({"median": summary, "raw": results}, indent=1))
    print("\n".join(lines) + note)


if __name__ == "__main__":
    main()
