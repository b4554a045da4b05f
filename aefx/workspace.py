"""Where a run writes its outputs, and the lock that keeps two runs out of one place.

A run of ``params.yaml`` as it stands writes into the project itself (what ``dvc.yaml`` and
``dvc.lock`` describe). A run with other params (``--set``, ``--params``) writes into a
workspace of its own, ``workspaces/<digest of its params>/``, so a scheduled run and a person's
experiment never overwrite each other's files. Two runs with the same workspace take turns."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aefx.config import Params, PathsConfig, data_among_outputs, load_params, overlap
from aefx.errors import AefxError
from aefx.io import cannot_write

log = logging.getLogger(__name__)
WORKSPACES = Path("workspaces")
LOCK_NAME = ".aefx-run.lock"


def params_digest(params: Params) -> str:
    """A short, stable name for a set of params. Paths follow the workspace, and where tasks run
    (compute) or what a sweep would vary changes no output, so those are left out."""
    payload = params.model_dump(mode="json", exclude={"paths", "compute", "sweep"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def default_workspace(params: Params, is_project_params: bool) -> Path | None:
    """None (the project itself) for params.yaml as it stands, else a workspace of its own."""
    return None if is_project_params else WORKSPACES / params_digest(params)


@dataclass(frozen=True)
class RunPlan:
    """A run's params with its outputs placed, and whether dvc.lock may record them."""

    params: Params
    workspace: Path | None
    record_dvc: bool


def plan_run(
    params_file: Path,
    overrides: list[str] | tuple[str, ...] = (),
    workspace: Path | None = None,
    params: Params | None = None,
) -> RunPlan:
    """Read ``params_file`` (unless ``params`` are given, already read from it) and decide
    where the run writes. dvc.lock records params.yaml: outputs made with other params must not
    be committed as its, nor overwrite its outputs, so those runs get a workspace of their own."""
    if params is None:
        params = load_params(params_file, overrides)
    project_params = not overrides and Path(params_file).resolve() == Path("params.yaml").resolve()
    if workspace is not None:
        workspace = _apart_from_project(params, workspace, project_params)
    if workspace is None:
        workspace = default_workspace(params, project_params)
    placed = in_workspace(params, workspace)
    if workspace is not None:
        check_workspace(placed)
    else:
        check_project_outputs(placed, str(params_file))
    return RunPlan(placed, workspace, project_params and workspace is None)


def _kept_folders() -> dict[str, str]:
    """The project's folders that no run output may be in or hold, with what each keeps."""
    from aefx.tracking import STORE_DIR

    return {
        ".git": "Git's repository",
        ".dvc": "DVC's folder",
        STORE_DIR: "the MLflow store",
        str(WORKSPACES): "the other runs' outputs",
    }


def _apart_from_project(params: Params, workspace: Path, project_params: bool) -> Path | None:
    """``--workspace`` as a run takes it: None for the project folder itself, which only a run
    of params.yaml as it stands may write: its outputs are what dvc.lock records, and a run of
    other params there would write over them and leave dvc.lock describing files gone. Nor may a
    workspace lie inside one of the project's outputs, which its next run replaces whole, or
    inside Git's, DVC's or the MLflow store's folder."""
    place, here = Path(os.path.abspath(workspace)), Path(os.path.abspath("."))
    if place == here:
        if project_params:
            return None
        raise AefxError(
            f"--workspace {workspace}: the project folder itself, where runs of params.yaml as "
            "it stands write the outputs dvc.lock records, and a run of other params would "
            "write over them: leave --workspace out (the run then writes to "
            "workspaces/<params digest>/) or give a folder of its own"
        )
    for name, output in params.paths.outputs().items():
        if place.is_relative_to(here / output):
            raise AefxError(
                f"--workspace {workspace}: inside paths.{name} ({output}), "
                "an output of the project's own runs, which the next one replaces whole: put it "
                "elsewhere (such as workspaces/NAME)"
            )
    for folder, what in _kept_folders().items():
        if folder != str(WORKSPACES) and place.is_relative_to(here / folder):
            raise AefxError(
                f"--workspace {workspace}: inside {folder}/, {what}: put it elsewhere (such as "
                "workspaces/NAME)"
            )
    return workspace


def check_project_outputs(params: Params, origin: str, root: Path = Path(".")) -> None:
    """No output of a run in the project itself where the project keeps something else: a
    file Git tracks that no run wrote (the code, params.yaml, the README; metrics and reports
    that dvc.lock lists are committed to Git on purpose), or Git's, DVC's, the MLflow store's
    or the workspaces' folder. A run replaces its outputs whole: ``paths.encoded: tasks``
    deleted the pipeline's code, ``paths.learning_curves: mlruns`` every run's MLflow record."""
    here = Path(os.path.abspath(root))
    shown = params.paths.outputs()
    outputs = params.paths.absolute_outputs()
    for name, at in outputs.items():
        for folder, what in _kept_folders().items():
            if overlap(at, here / folder):
                raise AefxError(
                    f"{origin}: paths.{name} ({shown[name]}) overlaps {folder}/, {what}, "
                    "which a run would write over: give it a path of its own"
                )
    written = _locked_outputs(here)
    tracked = [t for t in _git_tracked(here) if not any(t.is_relative_to(w) for w in written)]
    for name, at in outputs.items():
        hit = next((t for t in tracked if t.is_relative_to(at)), None)
        if hit is not None:
            raise AefxError(
                f"{origin}: paths.{name} ({shown[name]}) would replace "
                f"{hit.relative_to(here)}, which Git tracks and no run wrote (dvc.lock does not "
                "list it): give the output a path of its own"
            )


def _locked_outputs(root: Path) -> list[Path]:
    """The outputs dvc.lock lists (what runs of params.yaml wrote), absolute."""
    import yaml

    try:
        tree = yaml.safe_load((root / "dvc.lock").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return []
    stages = tree.get("stages") if isinstance(tree, dict) else None
    return [
        root / out["path"]
        for stage in (stages.values() if isinstance(stages, dict) else ())
        if isinstance(stage, dict)
        for out in stage.get("outs") or ()
        if isinstance(out, dict) and isinstance(out.get("path"), str)
    ]


def _git_tracked(root: Path) -> list[Path]:
    """The files Git tracks under ``root``, absolute; none outside a Git work tree."""
    from aefx.tracking import git_output

    listed = git_output(root, "ls-files", "-z") or ""
    return [root / name for name in listed.split("\0") if name]


def check_workspace(params: Params) -> None:
    """A run replaces its output files and folders (models/autoencoders, data/encoded, ...) whole.
    In a folder no aefx run has written (no lock file), something already at one of those paths
    is someone else's: refuse rather than replace it."""
    workspace = params.paths.workspace
    if (workspace / LOCK_NAME).exists():
        return
    for name, path in params.paths.model_dump().items():
        if (
            name not in ("raw_dir", "workspace")
            and path.is_relative_to(workspace)
            and (path.exists() or path.is_symlink())
        ):
            raise AefxError(
                f"{workspace}: {path.relative_to(workspace)} is already there and no aefx run "
                "wrote this folder; a run would replace it, so give it a new or empty folder"
            )


def in_workspace(params: Params, workspace: Path | None) -> Params:
    """``params`` with every output path moved under ``workspace`` (inputs stay where they are)."""
    if workspace is None:
        return params
    moved = {
        name: value if value.is_absolute() else workspace / value
        for name, value in params.paths.outputs().items()
    }
    # Checked before PathsConfig validates them, whose raw_dir rule would be a traceback here.
    _check_apart_from_data(params, workspace, params.paths.model_copy(update=moved))
    paths = {**params.paths.model_dump(), **moved, "workspace": workspace}
    return params.model_copy(update={"paths": PathsConfig(**paths)})


def _check_apart_from_data(params: Params, workspace: Path, placed: PathsConfig) -> None:
    """A workspace outside the raw data's folder, and its outputs (``placed``) apart from the
    data (:func:`aefx.config.data_among_outputs`): they would be written among the data, and a
    folder read as the data would read them as data the next time."""
    place, raw = Path(os.path.abspath(workspace)), params.paths.raw_dir
    if place.is_relative_to(Path(os.path.abspath(raw))):
        raise AefxError(
            f"--workspace {workspace}: inside paths.raw_dir ({raw}), the raw data's folder; put "
            "it elsewhere (such as workspaces/NAME)"
        )
    if problem := data_among_outputs(params.data, placed):
        raise AefxError(f"--workspace {workspace}: {problem}")


@contextlib.contextmanager
def workspace_lock(workspace: Path | None) -> Iterator[None]:
    """Hold ``<workspace>/.aefx-run.lock`` for the block; wait while another run holds it.

    An OS lock (flock), so a killed holder releases it the moment its process dies. A workspace
    this run created and left with nothing in it but the lock (the run failed before writing)
    is removed again: a refused run leaves no trace."""
    directory = Path(workspace) if workspace is not None else Path(".")
    with _locked_file(directory) as (handle, created):
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            if created and [p.name for p in directory.iterdir()] == [LOCK_NAME]:
                # Unlinked before unlocking: a waiting run sees its lock file is gone and
                # starts over with a new one (see _locked_file).
                (directory / LOCK_NAME).unlink()
                for empty in created:
                    with contextlib.suppress(OSError):
                        empty.rmdir()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _locked_file(directory: Path) -> Iterator[tuple[IO[str], list[Path]]]:
    """The lock file in ``directory``, open and exclusively flocked, and the directories (deepest
    first) that had to be made for it."""
    path = directory / LOCK_NAME
    while True:
        created = [d for d in (directory, *directory.parents) if not d.exists()]
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cannot_write(directory, exc, folder=True) from None
        try:
            handle = open(path, "a+")  # noqa: SIM115 - the with below closes it
        except FileNotFoundError:  # the run before removed the directory after our mkdir
            continue
        except OSError as exc:
            raise cannot_write(directory, exc, folder=True) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                log.warning(
                    "waiting for %s: another aefx run (pid %s) is writing there", directory, holder
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            # The holder we waited for may have removed the file (and its workspace): a lock on
            # an unlinked file guards nothing, so take the lock again on the file now there.
            try:
                current = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
            except FileNotFoundError:
                current = False
            if current:
                yield handle, created
                return
