# Loaded by JupyterHub from jupyterhub_config.d (z2jh mounts it there with
# hub.extraFiles): puts the Quarry hook module on the path and wires it in.
import sys

sys.path.insert(0, "/usr/local/etc/jupyterhub/quarry")

from quarry_hub_hook import configure  # noqa: E402

configure(c)  # noqa: F821 - `c` is the config object JupyterHub provides
