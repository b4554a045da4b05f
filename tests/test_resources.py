"""A full disk, and a SQLite store another process holds locked, are one line wherever they are
met: Keras saving a model, pyarrow writing codes, SQLite under MLflow. Each was a library's
traceback."""

from __future__ import annotations

import contextlib
import errno
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from aefx.config import load_params
from aefx.errors import resource_problem
from tests.conftest import run_command, train_autoencoders

AEFX = (sys.executable, "-m", "aefx")
FULL = "aefx: error: no space left on the device; free some space and run again\n"
AGAIN = "; free some space and run again"


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``: a real full disk, where mounting is allowed
    (as root; CI runs so here), else the test is skipped."""
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    done = mount and subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if not done or done.returncode != 0:
        pytest.skip("no small disk: a tmpfs cannot be mounted here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_or_locked_store_is_found_however_a_library_wrapped_it():
    def raised(exc: BaseException, wrapper: BaseException | None = None) -> BaseException:
        try:
            try:
                raise exc
            except BaseException as inner:
                if wrapper is None:
                    raise
                raise wrapper from inner
        except BaseException as outer:
            return outer

    enospc = OSError(errno.ENOSPC, "No space left on device")
    assert resource_problem(enospc) == f"no space left on the device{AGAIN}"
    wrapped = raised(enospc, RuntimeError("task failed"))
    assert resource_problem(wrapped) == f"no space left on the device{AGAIN}"
    named = OSError(errno.EDQUOT, "Disk quota exceeded", "models/encoder.keras")
    assert resource_problem(raised(named, ValueError())) == (
        f"over the disk quota (models/encoder.keras){AGAIN}"
    )
    sqlite = sqlite3.OperationalError("database or disk is full")
    assert resource_problem(raised(sqlite, RuntimeError("(sqlite3.OperationalError) ..."))) == (
        f"no space left on the device of the SQLite store (database or disk is full){AGAIN}"
    )
    locked = raised(sqlite3.OperationalError("database is locked"), RuntimeError())
    assert resource_problem(locked).startswith("the SQLite store is locked by another process")
    assert resource_problem(OSError(errno.ENOENT, "No such file or directory")) is None
    assert resource_problem(raised(ValueError("bad"), RuntimeError())) is None


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(project, tmp_path):
    params = load_params(overrides=["seeds=[1]"])
    train_autoencoders(params)
    rows = pd.read_parquet(params.paths.test)
    pd.concat([rows] * 200).to_parquet(project / "new.parquet")  # codes past 64 KiB as CSV
    model = str(params.paths.encoder_meta)
    with small_disk(tmp_path / "small", "64k") as small:
        done = run_command(
            *AEFX, "encode", "-m", model, "-i", "new.parquet", "-o", str(small / "codes.csv"),
            cwd=project,
        )  # fmt: skip
        assert (done.returncode, done.stderr) == (1, FULL)
        assert list(small.iterdir()) == []  # the codes were written aside, and removed

    # A run whose models folder fills as the autoencoder is saved: the stages before it keep
    # their outputs, as after any failed stage; the stage that failed left none.
    for name in ("models", "mlruns", "data"):
        shutil.rmtree(project / name, ignore_errors=True)
    (project / "data" / "raw").mkdir(parents=True)
    with small_disk(project / "models", "32k") as models:
        done = run_command(*AEFX, "run", cwd=project)
        assert done.returncode == 1
        errors = [line for line in done.stderr.splitlines() if "aefx: error:" in line]
        assert errors == [FULL.strip()]
        assert "Traceback" not in done.stderr
        assert sorted(p.name for p in models.rglob("*")) == ["scaler.json"]


def test_a_store_another_process_holds_locked_is_one_line(project):
    """A write held open on the SQLite store (a database browser, say): MLflow waited SQLite's
    five seconds and ended in SQLAlchemy's `database is locked` traceback."""
    from mlflow.tracking import MlflowClient

    store = project / "mlruns" / "mlflow.db"
    store.parent.mkdir()
    MlflowClient(f"sqlite:///{store}").create_experiment("aefx")
    holder = sqlite3.connect(store, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        done = run_command(*AEFX, "compare-runs", cwd=project)
    finally:
        holder.close()
    assert done.returncode == 1
    assert done.stderr == (
        "aefx: error: the SQLite store is locked by another process (database is locked): one "
        "holding a write open, such as a database browser; run again once it is done\n"
    )
    assert run_command(*AEFX, "compare-runs", cwd=project).returncode == 2  # no runs yet
