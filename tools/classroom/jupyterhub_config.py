"""JupyterHub configuration for the local classroom that ``make classroom`` starts.

A class of three on one machine, reachable on 127.0.0.1 only: an instructor and two
students who log in with one shared password, each with a single-user JupyterLab server
in their own home directory under ``CLASSROOM_ROOT/home/``. The driver
(``tools/classroom/classroom.py``) sets the environment variables read below; start the
Hub with ``jupyterhub -f tools/classroom/jupyterhub_config.py`` from ``CLASSROOM_ROOT``.

Everything runs as one Unix user (root on the test machines), so the spawner is
``SimpleLocalProcessSpawner``, which gives each Hub user a home directory but does not
switch Unix users. A real class uses The Littlest JupyterHub or Zero to JupyterHub
instead (see the README's "Teaching with the course").
"""

import os
import sys
from pathlib import Path

# get_config is injected by JupyterHub when it loads this file.
c = get_config()  # type: ignore[name-defined]  # noqa: F821

root = Path(os.environ["CLASSROOM_ROOT"])
here = Path(__file__).resolve().parent
venv_bin = Path(sys.executable).parent  # jupyterhub, jupyterhub-singleuser and nbgrader

# Network: everything on the loopback interface, on ports the driver found free.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ["CLASSROOM_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ["CLASSROOM_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['CLASSROOM_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [str(here / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.should_start = True
c.ConfigurableHTTPProxy.pid_file = str(root / "proxy.pid")

# State in the classroom folder, never in the working directory of the repository.
c.JupyterHub.db_url = f"sqlite:///{root / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(root / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(root / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the Hub stops every single-user server
c.JupyterHub.cleanup_proxy = True

# Users: one shared password (JupyterHub's successor to DummyAuthenticator.password,
# which is deprecated since JupyterHub 5.3) and a fixed class list.
users = os.environ["CLASSROOM_USERS"].split(",")
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["CLASSROOM_PASSWORD"]
c.Authenticator.allowed_users = set(users)

# Single-user servers: JupyterLab in /tmp-style homes, as the Hub's own Unix user.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(root / "home" / "{username}")
c.Spawner.cmd = [str(venv_bin / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
if os.getuid() == 0:
    c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 300  # importing JupyterLab on two busy cores is slow
c.Spawner.http_timeout = 300
# The classroom's run id lets the driver find every process of this run when it stops,
# single-user servers, terminals and kernels included (they all inherit it).
c.Spawner.environment = {
    "CLASSROOM_RUN_ID": os.environ["CLASSROOM_RUN_ID"],
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
    # singleuser/jupyter_server_config.py: terminals keep the Hub's PATH (with nbgrader).
    "JUPYTER_CONFIG_PATH": str(here / "singleuser"),
}
