"""`python -m quarry_jupyterlab ARGS…` runs `quarry ARGS…`.

The `quarry-jupyter` wheel's kernelspec starts the kernel this way:
Jupyter replaces a kernelspec's leading `python` with its own interpreter,
so the kernel is found in the environment Jupyter runs from, whatever
PATH holds. The binary replaces this process (same PID), so Jupyter's
interrupts, restarts and shutdowns reach the kernel itself.
"""

import os
import sys

from .binary import quarry_binary


def main() -> None:
    try:
        binary = quarry_binary()
    except FileNotFoundError as missing:
        sys.exit(str(missing))
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
