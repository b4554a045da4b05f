"""Whether the servers a command talks to answer (MLflow's tracking server, Prefect's API, a Dask
scheduler), and whether MLflow can open the tracking store at all.

Their clients retry one that does not for seconds (Prefect; Dask 30 s) to minutes (MLflow,
about four) and then raise a traceback. A server not started, or a mistyped host or port, is
the user's to fix, so commands ask first, with one TCP connection each. As something else may
listen on the port, each server is then asked one question by its own client, without retries
(MLflow's and Prefect's APIs) or with a time limit (Dask's handshake)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from aefx.errors import AefxError, first_line
from aefx.tracking import sqlite_file

# The port each scheme's clients use when the URL names none (8786: Dask's scheduler).
DEFAULT_PORTS = {"http": 80, "https": 443, "tcp": 8786, "tls": 8786}


def why_unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why a connection to ``url``'s host and port fails; None when it opens, or when there is
    nothing to ask: a scheme not in DEFAULT_PORTS, or an HTTP proxy in the way (only the proxy
    is reachable from here, and the client goes through it)."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(
        parts.hostname
    ):
        return None
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return None
    except (OSError, ValueError) as exc:
        return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def require_tracking_store(uri: str, existing: bool = False) -> None:
    """MLflow can open the tracking store at ``uri``: its server answers, if it is one; and a
    folder (MLflow's file store, which MLflow 3 refuses unless MLFLOW_ALLOW_FILE_STORE is set)
    is refused here in one line, with the SQLite URI to use instead, and so is a SQLite path
    that holds something other than a database. With ``existing`` (the commands that only read
    runs), a SQLite file must be there already: MLflow would create an empty store to find
    nothing in."""
    if re.fullmatch(r"[\w.-]+:\d+(/\S*)?", uri):
        # A server's host and port without http://: taken for a folder named so, or a scheme.
        raise AefxError(
            f"MLflow tracking URI {uri!r} names a host and port without a scheme: for an MLflow "
            f"server, write http://{uri}"
        )
    parts = urlsplit(uri)
    database = sqlite_file(uri)
    if database is not None:
        _require_sqlite_file(database.expanduser(), uri)
    if existing and database is not None and not database.expanduser().is_file():
        raise AefxError(f"no MLflow store at {uri} yet: run `aefx run` first")
    file_store = parts.scheme in ("", "file") and not uri.startswith("databricks")
    if file_store and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() not in ("true", "1"):
        folder = Path(parts.path if parts.scheme else uri).expanduser().absolute()
        raise AefxError(
            f"MLflow tracking URI {uri!r} is a folder, whose file store MLflow 3 refuses; use "
            f"sqlite:///{folder / 'mlflow.db'} (or set MLFLOW_ALLOW_FILE_STORE=true)"
        )
    _require_store_kind(uri)
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise AefxError(f"MLflow tracking URI {uri!r} names no host (e.g. http://127.0.0.1:5000)")
    if is_databricks(uri):
        host = databricks_host(uri)
        if host and (reason := why_unreachable(host)):
            raise AefxError(
                f"Databricks workspace {host} (MLflow tracking URI {uri!r}) is not reachable "
                f"({reason}); check DATABRICKS_HOST or the profile's host"
            )
        return
    reason = why_unreachable(uri)
    if reason:
        raise AefxError(
            f"MLflow tracking server {uri} is not reachable ({reason}); start it, or point "
            "tracking.uri or MLFLOW_TRACKING_URI at one that runs"
        )
    if parts.scheme in ("http", "https"):
        _require_mlflow_api(uri)


def is_databricks(uri: str) -> bool:
    """``uri`` is MLflow's for a Databricks workspace: ``databricks`` or ``databricks://...``."""
    return uri == "databricks" or urlsplit(uri).scheme == "databricks"


def served_ui(uri: str) -> str | None:
    """Where the MLflow UI of a tracking server or Databricks workspace is, in words (each
    serves its own); None for a local store, whose UI `aefx ui` serves."""
    if uri.startswith(("http://", "https://")):
        return f"{uri} (the tracking server serves it; open it in a browser)"
    if is_databricks(uri):
        where = databricks_host(uri) or "this Databricks workspace"
        return f"{where} (the workspace serves it: Experiments, in its sidebar)"
    return None


def databricks_host(uri: str) -> str | None:
    """The URL of the Databricks workspace that ``uri`` (``databricks`` or
    ``databricks://PROFILE``) stands for, found by the Databricks SDK's own rules (its
    environment variables, then the profile in its config file); None inside a Databricks
    runtime, whose notebook context holds the credentials. Without a workspace MLflow failed
    in a traceback as the run started."""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return None
    from databricks.sdk.config import Config

    # Only where the workspace is: the SDK's sign-in, and its fetch of the host's metadata
    # (five minutes of retries for a host that does not answer), are left to MLflow once the
    # host has answered. (A subclass would lose the SDK's settings, read off its own class.)
    where = Config.__new__(Config)
    where.init_auth = where._resolve_host_metadata = lambda: None
    profile = urlsplit(uri).netloc or os.environ.get("DATABRICKS_CONFIG_PROFILE") or None
    try:
        Config.__init__(where, profile=profile)
        host = where.host
    except ValueError as exc:  # a profile named that the config file lacks, say
        host, why = None, f" ({first_line(exc, 160)})"
    else:
        why = ""
    if not host:
        raise AefxError(
            f"MLflow tracking URI {uri!r}: no Databricks workspace named for it{why}; set "
            "DATABRICKS_HOST and DATABRICKS_TOKEN, or a profile with its host in "
            "~/.databrickscfg"
        )
    return host


# The stores MLflow tracks runs in, by URI scheme (a database's may name its driver, as in
# postgresql+psycopg2://); a folder or file:// is its file store, refused above.
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
TRACKING_SCHEMES = ("", "file", *DATABASE_SCHEMES, "http", "https", "databricks")


def _require_store_kind(uri: str) -> None:
    """A URI of a store MLflow tracks runs in, and for a database one whose driver is
    installed: an artifact store's (s3://) or a typo's scheme, or PostgreSQL without psycopg2,
    ended the run in MLflow's or SQLAlchemy's traceback once it started."""
    scheme = urlsplit(uri).scheme
    base = scheme.split("+")[0]
    if base not in TRACKING_SCHEMES:
        raise AefxError(
            f"MLflow tracking URI {uri!r}: {scheme}:// is not a store MLflow tracks runs in "
            "(sqlite:///FILE, postgresql://, mysql://, mssql://, http(s):// of an MLflow "
            "server, databricks)"
        )
    if base not in DATABASE_SCHEMES or (base == "sqlite" and "+" not in scheme):
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(uri).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise AefxError(f"MLflow tracking URI {uri!r}: {exc}") from None
    except ImportError as exc:
        raise AefxError(
            f"MLflow tracking URI {uri!r}: its database driver {exc.name} is not installed "
            "here; install it beside aefx, or use another store"
        ) from None


# The first 16 bytes of every SQLite database file (an empty file is a new database).
SQLITE_HEADER = b"SQLite format 3\x00"


def _require_sqlite_file(database: Path, uri: str) -> None:
    """A SQLite store's path is a database file or not there yet: a folder there, or a file of
    something else (a store copied in part, a mistyped path to another file), ended in
    SQLAlchemy's traceback ("file is not a database", "unable to open database file")."""
    if database.is_dir():
        raise AefxError(
            f"MLflow tracking URI {uri} names a folder; name the database file in it "
            f"(sqlite:///{database / 'mlflow.db'})"
        )
    try:
        head = _sqlite_header(database)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise AefxError(f"MLflow tracking URI {uri}: cannot read it ({exc.strerror})") from None
    if head and head != SQLITE_HEADER:
        raise AefxError(
            f"MLflow tracking URI {uri} names a file that is not an SQLite database; point "
            "tracking.uri or MLFLOW_TRACKING_URI at MLflow's store (or a path not yet there)"
        )


def _sqlite_header(path: Path) -> bytes:
    """The bytes of ``path`` where a SQLite database has :data:`SQLITE_HEADER`."""
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER))


def _require_mlflow_api(uri: str) -> None:
    """The server at ``uri`` answers MLflow's API: asked once, through MLflow's own client (its
    credentials and TLS settings), without the retries that take minutes on a 5xx."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        with _environment(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="10"):
            MlflowClient(uri).search_experiments(max_results=1)
    except MlflowException as exc:
        raise AefxError(_why_not_mlflow(uri, exc)) from None


def _why_not_mlflow(uri: str, exc: Exception) -> str:
    """One line from MLflow's error for one request to the tracking server's API."""
    from mlflow.exceptions import RestException

    message = str(exc)
    found = re.search(r"error code (\d{3})|too many (\d{3}) error responses", message)
    status = int(found[1] or found[2]) if found else None
    if status in (401, 403) or exc.error_code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        code = f"HTTP {status}" if status else exc.error_code
        return (
            f"MLflow tracking server {uri} refused the request ({code}); set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"
        )
    # MLflow's server answers in JSON with an error_code: a page of HTML, a 4xx in HTML or JSON
    # of another shape (Prefect's {"detail": "Not Found"}) comes from another service.
    if isinstance(exc, RestException):
        foreign = "error_code" not in exc.json
    else:
        foreign = "not in a valid JSON format" in message or bool(status and status < 500)
    if foreign:
        return (
            f"{uri} does not answer as an MLflow tracking server (not MLflow's API: another "
            "service on that port?); point tracking.uri or MLFLOW_TRACKING_URI at `mlflow "
            "server`'s address"
        )
    reason = f"HTTP {status}" if status else first_line(message, 160)
    return f"MLflow tracking server {uri} did not answer ({reason})"


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block, then put back as they were."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def require_prefect_api() -> str | None:
    """The Prefect API that PREFECT_API_URL names (in the environment or the active Prefect
    profile) answers; returns it, or None where there is none and a flow would start a
    temporary server of its own."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    parts = urlsplit(url or "")
    if url and (parts.scheme not in ("http", "https") or not parts.hostname):
        # Else "did not answer (UnsupportedProtocol)", as if a server were down.
        raise AefxError(
            f"PREFECT_API_URL {url!r} is not an http:// or https:// address with a host; "
            "point it at `prefect server start`'s API, such as http://127.0.0.1:4200/api"
        )
    reason = why_unreachable(url) if url else None
    if reason:
        raise AefxError(
            f"Prefect API {url} is not reachable ({reason}); start it with `prefect server "
            "start`, or unset PREFECT_API_URL to run on a temporary server"
        )
    if url:
        _require_prefect_server(url)
    else:
        _require_prefect_database()
    return url or None


def _require_prefect_database() -> None:
    """The SQLite database that a temporary Prefect server starts on (``prefect.db`` under
    PREFECT_HOME) is one that this Prefect can open: one that is no database, or that a newer
    Prefect has migrated (a version unknown here), kept the server from starting, and the run
    ended after 50 s in Prefect's "Timed out while attempting to connect" traceback. A
    database that is not there yet, or one of another kind, is Prefect's to make or open."""
    import sqlite3

    import prefect
    from prefect.settings import get_current_settings

    secret = get_current_settings().server.database.connection_url
    url = secret.get_secret_value() if secret else ""
    if not url.startswith("sqlite") or ":///" not in url:
        return
    path = Path(url.split(":///", 1)[1].split("?", 1)[0]).expanduser()
    try:
        head = _sqlite_header(path) if path.is_file() else b""
    except OSError:
        return  # Prefect says why it cannot read it
    if head and head != SQLITE_HEADER:
        raise AefxError(
            f"Prefect's database {path} is not a SQLite database; move it aside (a temporary "
            "server makes a new one), or set PREFECT_HOME to another folder"
        )
    try:
        # Read only; as a URI, whose path is percent-encoded (a ? or # in a folder's name).
        read_only = f"{path.absolute().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(read_only, uri=True)) as db:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return  # no migration table yet: Prefect makes it
    known = _prefect_migrations()
    if row and known and row[0] not in known:
        raise AefxError(
            f"Prefect's database {path} was migrated by another Prefect version (migration "
            f"{row[0]}, unknown to Prefect {prefect.__version__} here); set PREFECT_HOME to a "
            "folder of this project's own, or move the file aside"
        )


def _prefect_migrations() -> set[str]:
    """The SQLite migrations this Prefect knows (alembic revision ids, read off its migration
    files); empty where they are not laid out as expected, so that nothing is refused."""
    import prefect.server.database as database

    folder = Path(database.__file__).parent / "_migrations" / "versions" / "sqlite"
    found = set()
    for script in folder.glob("*.py"):
        match = re.search(r'^revision = "(\w+)"', script.read_text(), re.MULTILINE)
        if match:
            found.add(match[1])
    return found


def _require_prefect_server(url: str) -> None:
    """The server at ``url`` answers as Prefect's API, in a version this client can use: its
    client's own first question (the server's version), asked once, without the retries that
    take minutes on a 5xx. (Prefect Cloud is not asked: its client skips the question.)"""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import (
        PREFECT_API_REQUEST_TIMEOUT,
        PREFECT_CLIENT_MAX_RETRIES,
        temporary_settings,
    )

    once = {PREFECT_CLIENT_MAX_RETRIES: 0, PREFECT_API_REQUEST_TIMEOUT: 10.0}
    try:
        with temporary_settings(once), get_client(sync_client=True) as client:
            client.raise_for_api_version_mismatch()
    except (RuntimeError, httpx.HTTPError) as exc:
        raise AefxError(_why_not_prefect(url, exc)) from None


def _why_not_prefect(url: str, exc: Exception) -> str:
    """One line from the Prefect client's error for its version question."""
    cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    status = getattr(getattr(cause, "response", None), "status_code", None)
    if status in (401, 403):
        return (
            f"Prefect API {url} refused the request (HTTP {status}); set PREFECT_API_KEY or "
            "PREFECT_API_AUTH_STRING"
        )
    if "incompatible versions" in str(exc):
        return f"Prefect API {url}: {first_line(exc)}"
    # Not JSON (a web page, the UI at the address without /api), or a 4xx: not Prefect's API.
    if isinstance(cause, ValueError) or (status and status < 500):
        return (
            f"{url} does not answer as a Prefect API (another service there?); point "
            "PREFECT_API_URL at `prefect server start`'s address, ending in /api"
        )
    reason = f"HTTP {status}" if status else type(cause).__name__
    return f"Prefect API {url} did not answer ({reason})"


def require_dask_scheduler(address: str | None) -> None:
    """The Dask scheduler at ``address`` (compute.dask_address, --dask-address) answers, and
    (over plain TCP) answers Dask's handshake."""
    if not address:
        return
    from distributed.comm.addressing import get_address_host_port, parse_address

    try:
        # Before: an address without a port (`garbage`, `tcp://`) passed and failed in the
        # flow, once the autoencoders had trained. ucx and inproc have no host and port to read.
        if parse_address(address)[0] not in ("ucx", "inproc"):
            get_address_host_port(address)
    except ValueError as exc:
        raise AefxError(
            f"Dask scheduler address {address!r}: {exc}; give tcp://HOST:PORT, as `dask "
            "scheduler` prints it"
        ) from None
    if "://" not in address:  # Dask's default scheme
        address = f"tcp://{address}"
    reason = why_unreachable(address)
    if reason:
        raise AefxError(
            f"Dask scheduler {address} is not reachable ({reason}); start one with `dask "
            "scheduler`, or use --workers N for a local cluster"
        )
    if urlsplit(address).scheme == "tcp":
        _require_dask_handshake(address)


def _require_dask_handshake(address: str, timeout: float = 5.0) -> None:
    """Distributed's own connect, bounded: it waits for the peer's handshake with no time
    limit, so a port where something else listens (a web server) hung the run for good after
    the autoencoder had trained, when the classifier cells went to Dask. (TLS needs the
    cluster's security settings, so only plain TCP is asked.)"""
    import asyncio

    from distributed.comm import connect

    async def shake_hands() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    try:
        asyncio.run(asyncio.wait_for(shake_hands(), timeout))
    except (TimeoutError, OSError) as exc:
        reason = "no handshake" if isinstance(exc, TimeoutError) else first_line(exc)
        raise AefxError(
            f"{address} does not answer as a Dask scheduler ({reason} within {timeout:g} s: "
            "another service on that port?); point --dask-address or compute.dask_address at "
            "`dask scheduler`'s address"
        ) from None
