"""Drive a local JupyterHub classroom: start it, log users in, run their commands, stop it.

``tests/classroom/test_classroom.py`` (``make classroom``) uses these pieces to run one
nbgrader assignment through a real JupyterHub on 127.0.0.1:

- :func:`start_hub` starts ``jupyterhub`` with ``tools/classroom/jupyterhub_config.py``
  (configurable-http-proxy from ``tools/classroom/node_modules``, installed by ``npm ci``)
  on free ports, in its own process group, and waits until the proxy answers;
- :class:`HubUser` is one person at a browser: it logs in through the Hub's login form,
  asks the Hub's REST API for a token and to start the user's server, and then talks to
  that server through the proxy: terminals (commands typed into a JupyterLab terminal),
  the contents API (opening and saving a notebook) and nbgrader's formgrader API;
- :func:`stop_hub` stops the Hub (which stops the proxy and the single-user servers) and
  then every process still carrying the run's ``CLASSROOM_RUN_ID``: single-user servers,
  terminals, nbgrader and its kernels included. It is safe to call at any stage.

Every wait is bounded and raises :class:`TimeoutError` with what was seen so far.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import psutil
import requests
import websocket

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
VENV_BIN = Path(sys.executable).parent

T = TypeVar("T")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\r")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str,
             interval: float = 0.5) -> T:
    """Call ``probe`` until it returns something other than None, for at most ``timeout`` s.

    Parameters
    ----------
    probe : callable
        Returns None while not ready; exceptions count as "not ready" and the last one is
        reported on timeout.
    timeout : float
        Seconds to wait in all.
    what : str
        What is awaited, for the error message.
    interval : float
        Seconds between calls.

    Returns
    -------
    object
        The first value ``probe`` returned that was not None.

    Raises
    ------
    TimeoutError
        If ``probe`` never succeeded within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
        except (requests.RequestException, OSError, ValueError, KeyError) as error:
            value, last_error = None, error
        if value is not None:
            return value
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class Hub:
    """A running local JupyterHub.

    Attributes
    ----------
    root : Path
        The classroom folder: Hub state, logs, ``home/<user>/`` and the exchange.
    url : str
        The public URL (the proxy), ``http://127.0.0.1:PORT``.
    password : str
        The shared password every user logs in with.
    run_id : str
        Inherited by every process of this run, so that :func:`stop_hub` finds them all.
    process : subprocess.Popen
        The ``jupyterhub`` process (leader of its own process group).
    log_path : Path
        The Hub's log (the proxy's output goes there too).
    seen : set of int
        Process ids of the Hub's descendants seen so far (see :meth:`remember_processes`).
    """

    root: Path
    url: str
    password: str
    run_id: str
    process: subprocess.Popen
    log_path: Path
    seen: set[int] = field(default_factory=set)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the Hub's log, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no hub log)"
        return "\n".join(text.splitlines()[-lines:])

    def remember_processes(self) -> None:
        """Record the Hub's current descendants (proxy, servers, terminals, kernels)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return
        self.seen.update(child.pid for child in children)


class HubStartFailed(RuntimeError):
    """The Hub exited while starting, or it or the proxy found its port taken."""


_PORT_TAKEN = ("EADDRINUSE", "Address already in use")


def start_hub(root: Path, users: list[str], *, timeout: float = 180,
              attempts: int = 3) -> Hub:
    """Start JupyterHub on free ports of 127.0.0.1 and wait until its API answers.

    Parameters
    ----------
    root : Path
        An empty folder for the Hub's state, logs and the users' home directories.
    users : list of str
        The class list: the only names allowed to log in.
    timeout : float
        Seconds to wait for the Hub to answer through the proxy, per attempt.
    attempts : int
        Starts to try: a port found free can be taken by another program before the Hub
        or the proxy binds it; then the Hub is stopped and started again on new ports.

    Returns
    -------
    Hub
        The running Hub. Always pass it to :func:`stop_hub`, also when this raises later.

    Raises
    ------
    FileNotFoundError
        If configurable-http-proxy is not installed (run ``npm ci`` in tools/classroom).
    HubStartFailed
        If the Hub exited while starting or a port was taken, ``attempts`` times (the
        Hub's log is in the message).
    TimeoutError
        If the Hub does not answer in time (the Hub is stopped before this is raised).
    """
    if not PROXY.exists():
        raise FileNotFoundError(f"{PROXY} is missing: run `npm ci` in {HERE}")
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, attempts + 1):
        log_path = root / "jupyterhub.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        hub = _launch(root, users)

        def answers(hub: Hub = hub, offset: int = offset) -> bool | None:
            if hub.process.poll() is not None:
                raise HubStartFailed(f"jupyterhub exited with {hub.process.returncode}:\n"
                                     f"{hub.log_tail()}")
            with open(hub.log_path, errors="replace") as log:
                log.seek(offset)
                if any(marker in log.read() for marker in _PORT_TAKEN):
                    raise HubStartFailed(f"a port was taken:\n{hub.log_tail()}")
            response = requests.get(f"{hub.url}/hub/api/", timeout=5)
            return True if response.status_code == 200 and "version" in response.json() else None

        try:
            wait_for(answers, timeout=timeout, what="the Hub's API through the proxy")
        except HubStartFailed:
            stop_hub(hub)
            if attempt == attempts:
                raise
            continue
        except BaseException:
            stop_hub(hub)
            raise
        hub.remember_processes()
        return hub
    raise AssertionError("unreachable")


def _launch(root: Path, users: list[str]) -> Hub:
    """Start ``jupyterhub`` in its own process group on newly picked free ports."""
    port = free_port()
    run_id = uuid.uuid4().hex
    password = secrets.token_urlsafe(16)
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "CLASSROOM_ROOT": str(root),
        "CLASSROOM_PORT": str(port),
        "CLASSROOM_HUB_PORT": str(free_port()),
        "CLASSROOM_PROXY_API_PORT": str(free_port()),
        "CLASSROOM_USERS": ",".join(users),
        "CLASSROOM_PASSWORD": password,
        "CLASSROOM_RUN_ID": run_id,
    })
    log_path = root / "jupyterhub.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(CONFIG)], cwd=root, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    return Hub(root, f"http://127.0.0.1:{port}", password, run_id, process, log_path)


def run_processes(run_id: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``CLASSROOM_RUN_ID=run_id``."""
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get("CLASSROOM_RUN_ID") == run_id:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def _terminate(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL; return those that needed SIGKILL."""
    for process in processes:
        try:
            process.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)
    return alive


def stop_hub(hub: Hub, *, timeout: float = 60) -> list[str]:
    """Stop the Hub and every process it started; safe to call more than once.

    The Hub is asked to stop first (SIGTERM; with ``cleanup_servers`` it stops the
    single-user servers and the proxy itself). Then every process still alive that the
    Hub started, found by its ``CLASSROOM_RUN_ID`` or among the descendants seen while it
    ran, is terminated, and killed if it does not stop within 15 s.

    Parameters
    ----------
    hub : Hub
        The Hub that :func:`start_hub` returned.
    timeout : float
        Seconds the Hub gets to stop on its own before it is killed.

    Returns
    -------
    list of str
        One line per process that was still running after the Hub stopped (empty when the
        Hub cleaned up after itself).
    """
    hub.remember_processes()
    if hub.process.poll() is None:
        try:
            os.killpg(hub.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            hub.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(hub.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            hub.process.wait(timeout=10)
    leftovers: dict[int, psutil.Process] = {p.pid: p for p in run_processes(hub.run_id)}
    for pid in hub.seen:
        try:
            process = psutil.Process(pid)
            if process.environ().get("CLASSROOM_RUN_ID") == hub.run_id:
                leftovers.setdefault(pid, process)
        except (psutil.Error, OSError):
            continue
    described = []
    for process in leftovers.values():
        try:
            described.append(f"{process.pid}: {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            described.append(f"{process.pid}: (gone)")
    _terminate(list(leftovers.values()), timeout=15)
    return described


@dataclass
class CommandResult:
    """What a command typed into a terminal printed, and its exit status."""

    command: str
    status: int
    output: str
    seconds: float


class HubUser:
    """One member of the class, using the Hub the way a browser does.

    Parameters
    ----------
    hub : Hub
        The running Hub.
    name : str
        The user's name on the Hub (one of the class list).
    """

    def __init__(self, hub: Hub, name: str) -> None:
        self.hub = hub
        self.name = name
        self.session = requests.Session()
        self.token: str | None = None

    # -- the Hub --------------------------------------------------------------------------
    def log_in(self) -> None:
        """Log in through the Hub's login form, then get an API token with that session.

        Raises
        ------
        AssertionError
            If the Hub refuses the login or the token request.
        """
        page = self.session.get(f"{self.hub.url}/hub/login", timeout=30)
        page.raise_for_status()
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        assert xsrf, "the Hub's login page has no _xsrf field"
        answer = self.session.post(
            f"{self.hub.url}/hub/login",
            data={"username": self.name, "password": self.hub.password,
                  "_xsrf": xsrf.group(1)},
            allow_redirects=False, timeout=60)
        assert answer.status_code == 302, (
            f"login of {self.name} answered {answer.status_code}: {answer.text[:300]}")
        # The logged-in session asks the REST API for a token, as the Hub's token page
        # does: cookie authentication plus the session's _xsrf token in a header.
        home = self.session.get(f"{self.hub.url}/hub/token", timeout=30)
        home.raise_for_status()
        xsrf = re.search(r'xsrf_token:\s*"([^"]+)"', home.text) or re.search(
            r'name="_xsrf"\s+value="([^"]+)"', home.text)
        headers = {"X-XSRFToken": xsrf.group(1)} if xsrf else {}
        reply = self.session.post(
            f"{self.hub.url}/hub/api/users/{self.name}/tokens",
            json={"note": "classroom test", "expires_in": 3600}, headers=headers, timeout=30)
        assert reply.status_code in (200, 201), (
            f"token request of {self.name} answered {reply.status_code}: {reply.text[:300]}")
        self.token = reply.json()["token"]

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header with the user's token."""
        assert self.token, f"{self.name} has not logged in"
        return {"Authorization": f"token {self.token}"}

    def hub_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the Hub's REST API (``/hub/api/<path>``) as this user."""
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.hub.url}/hub/api/{path}",
                                headers=self.headers, **kwargs)

    def start_server(self, *, timeout: float = 300) -> None:
        """Ask the Hub's API to start this user's server and wait until it is ready.

        Raises
        ------
        TimeoutError
            If the server is not ready (and answering through the proxy) in time.
        """
        reply = self.hub_api("POST", f"users/{self.name}/server")
        assert reply.status_code in (201, 202), (
            f"starting {self.name}'s server answered {reply.status_code}: {reply.text[:300]}")

        def ready() -> bool | None:
            model = self.hub_api("GET", f"users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if not server or not server.get("ready"):
                if server is None and model.get("pending") is None:
                    raise RuntimeError(f"{self.name}'s server stopped:\n{self.hub.log_tail()}")
                return None
            return True if self.server_api("GET", "api/status").status_code == 200 else None

        wait_for(ready, timeout=timeout, what=f"{self.name}'s server", interval=1)
        self.hub.remember_processes()

    def stop_server(self, *, timeout: float = 60) -> None:
        """Ask the Hub's API to stop this user's server, and wait until it has stopped."""
        reply = self.hub_api("DELETE", f"users/{self.name}/server")
        if reply.status_code not in (202, 204, 400):  # 400: not running
            raise AssertionError(f"stopping {self.name}'s server answered {reply.status_code}")

        def stopped() -> bool | None:
            model = self.hub_api("GET", f"users/{self.name}").json()
            return True if not model.get("servers") else None

        wait_for(stopped, timeout=timeout, what=f"{self.name}'s server to stop", interval=1)

    # -- the user's server, through the proxy -------------------------------------------------
    def server_api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call this user's single-user server (``/user/<name>/<path>``) through the proxy."""
        kwargs.setdefault("timeout", 60)
        return requests.request(method, f"{self.hub.url}/user/{self.name}/{path}",
                                headers=self.headers, **kwargs)

    def run(self, command: str, *, timeout: float = 300) -> CommandResult:
        """Type ``command`` into a new JupyterLab terminal and wait for it to finish.

        The terminal is created with the server's REST API, driven through its websocket
        (both through the proxy) and deleted afterwards.

        Parameters
        ----------
        command : str
            One shell line.
        timeout : float
            Seconds the command may take.

        Returns
        -------
        CommandResult
            The exit status and the terminal's output (control sequences removed).

        Raises
        ------
        TimeoutError
            If the command has not finished within ``timeout`` seconds.
        """
        reply = self.server_api("POST", "api/terminals")
        assert reply.status_code == 200, f"new terminal: {reply.status_code} {reply.text[:200]}"
        terminal = reply.json()["name"]
        tag = secrets.token_hex(6)
        done = re.compile(rf"@@{tag} (\d+)@@")
        url = self.hub.url.replace("http://", "ws://", 1)
        start = time.monotonic()
        chunks: list[str] = []
        connection = websocket.create_connection(
            f"{url}/user/{self.name}/terminals/websocket/{terminal}",
            header=[f"Authorization: token {self.token}"], timeout=30)
        try:
            connection.settimeout(5)
            connection.send(json.dumps(["set_size", 50, 400, 800, 4000]))
            connection.send(json.dumps(["stdin", f'{command}; echo "@@{tag} $?@@"\r']))
            while True:
                if time.monotonic() - start > timeout:
                    tail = _ANSI.sub("", "".join(chunks))[-3000:]
                    raise TimeoutError(f"{self.name}: `{command}` still running after "
                                       f"{timeout:.0f} s; output so far:\n{tail}")
                try:
                    message = connection.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                kind, *payload = json.loads(message)
                if kind == "stdout":
                    chunks.append(payload[0])
                    match = done.search(_ANSI.sub("", "".join(chunks)))
                    if match:
                        break
                elif kind == "disconnect":
                    raise RuntimeError(f"{self.name}'s terminal closed during `{command}`")
        finally:
            connection.close()
            self.server_api("DELETE", f"api/terminals/{terminal}")
        output = _ANSI.sub("", "".join(chunks))
        output = output[: match.start()]
        return CommandResult(command, int(match.group(1)), output, time.monotonic() - start)

    def read_notebook(self, path: str) -> dict:
        """Open a notebook through the server's contents API (as JupyterLab does)."""
        reply = self.server_api("GET", f"api/contents/{path}", params={"content": "1"})
        assert reply.status_code == 200, f"{self.name} cannot open {path}: {reply.status_code}"
        return reply.json()["content"]

    def save_notebook(self, path: str, notebook: dict) -> None:
        """Save a notebook through the server's contents API (as JupyterLab does)."""
        reply = self.server_api("PUT", f"api/contents/{path}",
                                json={"type": "notebook", "format": "json", "content": notebook})
        assert reply.status_code in (200, 201), (
            f"{self.name} cannot save {path}: {reply.status_code} {reply.text[:300]}")

    def follow_nbgitpuller_link(self, link: str, *, timeout: float = 180) -> str:
        """Open an nbgitpuller link as a logged-in browser would, and let it pull.

        The link goes through the Hub (``/hub/user-redirect/git-pull?...``) to the user's
        server, logging in to it with the Hub's OAuth on the way; the page it lands on
        is nbgitpuller's progress page. A browser runs that page's script, which streams
        ``git-pull/api`` and then goes to the link's ``urlpath``: this does the same with
        the values the page carries, then opens that URL.

        Parameters
        ----------
        link : str
            ``https://HUB/hub/user-redirect/git-pull?repo=...&branch=...&urlpath=...``.
        timeout : float
            Seconds the pull may take before a ``TimeoutError``.

        Returns
        -------
        str
            The URL the link finally opened (the ``urlpath`` on the user's server).

        Raises
        ------
        AssertionError
            If a page or the pull fails.
        """
        page = self.session.get(link, timeout=60)
        prefix = f"{self.hub.url}/user/{self.name}/git-pull"
        assert page.status_code == 200 and page.url.startswith(prefix), (
            f"{self.name}: the link ended at {page.url} ({page.status_code})")
        data = {key: unquote(value) for key, value in
                re.findall(r'data-([a-z-]+)="([^"]*)"', page.text)}
        params = {"_xsrf": data["xsrf"], "repo": data["repo"], "targetpath": data["targetpath"]}
        if "branch" in data:
            params["branch"] = data["branch"]
        events: list[dict] = []
        deadline = time.monotonic() + timeout
        with self.session.get(f"{self.hub.url}{data['base-url']}git-pull/api", params=params,
                              stream=True, timeout=(10, 30)) as stream:
            assert stream.status_code == 200, f"git-pull/api answered {stream.status_code}"
            # requests' stubs type the lines as bytes; decode_unicode=True makes them str.
            for line in stream.iter_lines(decode_unicode=True):
                if line and line.startswith("data: "):  # type: ignore[arg-type]
                    events.append(json.loads(line[len("data: "):]))
                    if events[-1].get("phase") in ("finished", "error"):
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nbgitpuller still pulling after {timeout:.0f} s")
        assert events and events[-1].get("phase") == "finished", (
            f"nbgitpuller failed: {events[-1:] or 'no events'}")
        target = f"{self.hub.url}{data['base-url']}{data['path']}"
        opened = self.session.get(target, timeout=60)
        assert opened.status_code == 200, f"{target} answered {opened.status_code}"
        return target

    def list_directory(self, path: str = "") -> list[str]:
        """Names in a folder of the user's home, through the contents API."""
        reply = self.server_api("GET", f"api/contents/{path}")
        assert reply.status_code == 200, f"{self.name} cannot list {path!r}: {reply.status_code}"
        return sorted(item["name"] for item in reply.json()["content"])
