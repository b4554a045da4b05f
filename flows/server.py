"""Prefect's temporary server, started so that a Ctrl-C reaches aefx and not the server.

A terminal's Ctrl-C, ``timeout`` and many CI runners signal a command's whole process group.
Prefect starts its temporary server in aefx's group, so the server used to stop at the moment
the run it serves was interrupted: the flow then retried for a minute or two to report its own
crash to a server that was gone, and ended in a traceback instead of aefx's one line. Started
here, the server runs in a session of its own: it outlives the signal, records the crash, and
is stopped by Prefect's exit hook once aefx is done. On Linux it is also tied to aefx's main
thread (``PR_SET_PDEATHSIG``), so an aefx killed outright (SIGKILL) leaves no server behind.

Its port is the kernel's choice, held from the moment it is chosen: aefx binds a socket and
hands it to the server (uvicorn's ``--fd``). Prefect's own choice, a random free port that its
server binds seconds later, let two runs started at once take the same port: the second
server failed, the second run talked to the first run's server, and lost it when that run
ended (`Connection refused` and a traceback after all its training). Bound, not yet
listening, the socket refuses connections until the server takes it, so Prefect's wait for
its health check works as before. Servers of several processes start one at a time
(:func:`_one_start_at_a_time`)."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import socket
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Run in the child between fork and the server's exec: ask the kernel for SIGTERM when the
# parent thread ends (prctl option 1 is PR_SET_PDEATHSIG), and give up if the parent is
# already gone. argv: the parent's pid, then the server's command line.
_TIED_TO_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(0)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def temporary_prefect_server() -> str:
    """Start Prefect's temporary server, as the flow's client would; return its API URL. Prefect
    keeps one per process, so the flow's run then uses the same one."""
    server = _own_session_server_class()()
    server.start()
    return server.api_url


def _own_session_popen(
    args: list[str], listener: socket.socket | None = None, **options: Any
) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` for the server: a session of its own, and (started from the main
    thread, on Linux) an exit of its own when aefx ends. Tying it to another thread would stop
    it when that thread ends, so elsewhere it only gets the session. With ``listener``, the
    server serves on that socket instead of binding the host and port it was given."""
    if listener is not None:
        args = [*_without_address(args), "--fd", str(listener.fileno())]
        options["pass_fds"] = (listener.fileno(),)
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        args = [sys.executable, "-c", _TIED_TO_PARENT, str(os.getpid()), *args]
    return subprocess.Popen(args, start_new_session=True, **options)


def _without_address(args: list[str]) -> list[str]:
    """uvicorn's command line without its ``--host`` and ``--port`` options."""
    kept: list[str] = []
    options = iter(args)
    for arg in options:
        if arg in ("--host", "--port"):
            next(options, None)
        else:
            kept.append(arg)
    return kept


def _reserved_port() -> socket.socket | None:
    """A socket bound to a free local port of the kernel's choice and not listening yet (so
    connections to it are refused until the server listens); None where uvicorn cannot take a
    socket (Windows), which leaves the choice to Prefect."""
    if sys.platform == "win32":
        return None
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    return listener


@contextlib.contextmanager
def _one_start_at_a_time() -> Iterator[None]:
    """Held while a temporary server starts, across processes. Each server brings Prefect's
    database in PREFECT_HOME up to date as it starts, and servers started at once on a new one
    (the first runs on a machine) collided: tracebacks in the runs' output (`UNIQUE constraint
    failed: block_type.slug`) and servers that Prefect had to start again. Where the lock
    cannot be made, the start goes ahead and says what is wrong itself."""
    from prefect.settings import PREFECT_HOME

    try:
        home = Path(PREFECT_HOME.value())
        home.mkdir(parents=True, exist_ok=True)
        lock = open(home / ".aefx-server-start.lock", "a")  # noqa: SIM115
    except OSError:
        yield
        return
    with lock:  # closing it releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@functools.cache
def _own_session_server_class() -> type:
    # Imported here: Prefect's server module is heavy, and `aefx --help` must stay quick.
    from prefect.server.api import server as server_module

    class OwnSessionServer(server_module.SubprocessASGIServer):
        """Prefect's server, its process started by :func:`_own_session_popen`. Prefect keeps
        one instance per port in a class-wide registry, so its own clients, asking the base
        class for the default one, find this one. It serves on a port aefx holds until the
        server has it (:func:`_reserved_port`)."""

        listener: socket.socket | None = None

        def start(self, timeout: int | None = None) -> None:
            if self.running:
                return
            try:
                with _one_start_at_a_time():
                    super().start(timeout)
            finally:
                self._release_port()  # the server has its own copy
                if not self.running:  # failed: a second try holds a port of its own again
                    self.port = None

        def find_available_port(self) -> int:
            # Also Prefect's choice when a server fails to start and it starts another.
            self._release_port()
            self.listener = _reserved_port()
            if self.listener is None:
                return super().find_available_port()
            return self.listener.getsockname()[1]

        def _release_port(self) -> None:
            if self.listener is not None:
                self.listener.close()
                self.listener = None

        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            # Prefect builds the command line and environment; only how it starts differs.
            held = self.listener
            if held is not None and held.getsockname()[1] != self.port:
                held = None  # a port given, not chosen by find_available_port
            started_with = server_module.subprocess
            popen = functools.partial(_own_session_popen, listener=held)
            server_module.subprocess = types.SimpleNamespace(Popen=popen)
            try:
                return super()._run_uvicorn_command()
            finally:
                server_module.subprocess = started_with

    return OwnSessionServer
