"""Settings for the classroom's single-user servers (read through JUPYTER_CONFIG_PATH).

A terminal opened in a single-user server started by JupyterHub runs a login shell by
default, and a login shell as root on Debian resets PATH in /etc/profile, losing the
course's virtual environment (and with it ``nbgrader``). The classroom's terminals run a
plain bash that keeps the PATH the Hub gave the server.
"""

c = get_config()  # noqa: F821  (injected by Jupyter Server when it loads this file)

c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash", "--noprofile", "--norc"]}
