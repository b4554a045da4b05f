"""The aefx command as a user runs it: a fast --help, one clear line for every bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from aefx.workspace import LOCK_NAME
from tests.conftest import (
    TINY_PARAMS,
    free_port,
    http_answering,
    run_command,
    signal_when,
    start_command,
    subprocess_env,
    write_params,
)

AEFX = [sys.executable, "-m", "aefx"]


def aefx(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_command(*AEFX, *args, cwd=cwd)


def test_help_imports_no_heavy_library(tmp_path):
    probe = (
        "import sys\n"
        "from aefx.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'prefect', 'dvc', 'sklearn')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env(),
        timeout=120,
        check=True,
    )
    assert "run" in done.stdout and "HEAVY []" in done.stdout


def test_each_commands_help_keeps_a_paragraph_on_one_line_for_the_terminal_to_wrap():
    import inspect

    from typer.testing import CliRunner

    from aefx.cli import app

    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        shown = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "400"}).output
        lines = {line.strip() for line in shown.splitlines()}
        for paragraph in inspect.getdoc(info.callback).split("\n\n"):
            assert " ".join(paragraph.split()) in lines, (name, paragraph)
        # A flag takes no value, so none is shown (typer 0.29 showed --help <bool>).
        assert "--help  " in shown and "<bool>" not in shown, name


def test_run_starts_prefects_server_while_mlflow_opens_and_the_flow_uses_it(tmp_path):
    # `aefx run` calls warm_start before the flow. With no Prefect API configured it starts
    # the temporary server, and the flow's client must then talk to that server, not a second.
    write_params(tmp_path)
    probe = (
        "from aefx.config import load_params\n"
        "from flows.pipeline import warm_start\n"
        "from prefect.client.orchestration import get_client\n"
        "from prefect.server.api.server import SubprocessASGIServer\n"
        "warm_start(load_params())\n"
        "server = SubprocessASGIServer()\n"
        "with get_client(sync_client=True) as client:\n"
        "    print('SAME', server.running and str(client.api_url).rstrip('/') == server.api_url)\n"
        "    print('HEALTHY', client.api_healthcheck() is None)\n"
    )
    env = {k: v for k, v in subprocess_env().items() if k != "PREFECT_API_URL"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SAME True" in done.stdout and "HEALTHY True" in done.stdout
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()  # the MLflow store, opened early


def _user_data(tmp_path: Path, frame: pd.DataFrame, name: str = "mine.csv", **data) -> Path:
    (tmp_path / "data" / "raw").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "data" / "raw" / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    tree = {**TINY_PARAMS, "data": {"source": "file", "path": f"data/raw/{name}", **data}}
    write_params(tmp_path, tree)
    return path


GOOD = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["a", "b", "c"])
BAD_DATA = {
    "missing label": (GOOD, {"label": "target"}, "label column 'target' not found"),
    "non-numeric": (GOOD.assign(b=["x"] * 40, label=[0, 1] * 20), {}, "column 'b' is not numeric"),
    "nan": (
        GOOD.assign(a=[np.nan] + [1.0] * 39, label=[0, 1] * 20),
        {},
        "column 'a' has 1 missing",
    ),
    "infinite": (
        GOOD.assign(c=[np.inf] * 2 + [1.0] * 38, label=[0, 1] * 20),
        {},
        "column 'c' has 0 missing and 2 infinite",
    ),
    "single class": (GOOD.assign(label=1), {}, "single class"),
    "class only in test": (
        GOOD.assign(label=[0, 1] * 19 + [2, 2]),
        {"split_seed": 8},  # this seed's split puts both rows of class 2 in test
        "class(es) 2 in 'label' have all their rows (2) in the test split and none to train on; "
        "set data.stratify: true, or give them more rows",
    ),
    # Stratifying refuses a class of one row, so it is not offered as the way on.
    "one-row class only in test": (
        GOOD.assign(label=[0, 1] * 19 + [0, 2]),
        {"split_seed": 1},  # this seed's split puts the last row in test
        "class(es) 2 in 'label' have all their rows (1) in the test split and none to train on; "
        "give them more rows (a class of one row cannot be in both splits)",
    ),
    "continuous label": (
        GOOD.assign(label=np.linspace(0.5, 2.0, 40)),
        {},
        "label column 'label' holds continuous values (40 distinct, e.g. 0.5), and aefx compares "
        "classifiers: give it classes (integers or text; bin a numeric target first)",
    ),
    "repeated column name": (
        pd.concat([GOOD, GOOD[["a"]]], axis=1).assign(label=[0, 1] * 20),
        {},
        "the header names 'a' twice (columns 1 and 4)",
    ),
    "saved row index": (
        GOOD.rename(columns={"b": ""}).assign(label=[0, 1] * 20),
        {},
        "column 2 of the header has no name (a saved row index?",
    ),
    "trailing delimiters": (  # every line ends with a comma: a last column without a name
        GOOD.assign(label=[0, 1] * 20, **{"": np.nan}),
        {},
        "the header's last column (5) has no name (does each line end with ','? remove the "
        "trailing delimiters, or name the column)",
    ),
    "too few rows": (GOOD.head(5).assign(label=[0, 1, 0, 1, 0]), {}, "too few to split"),
    "too few training rows": (  # was "40 rows are too few to split": the setting is at fault
        GOOD.assign(label=[0, 1] * 20),
        {"test_size": 0.99},
        "data.test_size=0.99 leaves 0 of the 40 rows to train on; lower it",
    ),
    "too few test rows": (  # was accepted: one test row, so each seed scored 0 or 1
        GOOD.assign(label=[0, 1] * 20),
        {"test_size": 0.02},
        "data.test_size=0.02 leaves 1 of the 40 rows to test on; raise it",
    ),
}


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("latest", "--alias 'latest': MLflow keeps latest, v1, v2, ... for versions; choose "),
        ("v3", "--alias 'v3': MLflow keeps latest, v1, v2, ... for versions; choose another "),
        ("best model", "--alias 'best model': an alias is 1 to 255 letters, digits, _ and - "),
    ],
)
def test_promote_refuses_an_alias_mlflow_would_refuse_before_it_opens_the_store(
    tmp_path, alias, message
):
    """MLflow refused them in a traceback once the versions had been searched and ranked."""
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("promote", "--alias", alias, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: {message}") and done.stderr.count("\n") == 1
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_gets_one_line_exit_2_and_no_output(tmp_path, case):
    frame, data, needle = BAD_DATA[case]
    source = _user_data(tmp_path, frame, **data)
    done = aefx("stage", "ingest", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aefx: error: ")
    assert needle in lines[0] and str(source.relative_to(tmp_path)) in lines[0]
    assert not (tmp_path / "data" / "processed").exists()


def test_missing_data_file(tmp_path):
    write_params(tmp_path, {"data": {"source": "file", "path": "data/raw/gone.csv"}})
    done = aefx("stage", "ingest", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "aefx: error: data/raw/gone.csv: data file not found"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["data.source=file", "data.path=data/raw/gone.csv"],
            "data/raw/gone.csv: data file not found",
        ),
        (["data.source=file", "data.path=data/raw/table.txt"], "unsupported file type '.txt'"),
        (
            ["data.source=file", "data.path=data/raw/book.xlsx"],
            "data/raw/book.xlsx: unsupported file type '.xlsx' (a spreadsheet: save it from its "
            "program as CSV (UTF-8); use .csv, .tsv",
        ),
        (["data.source=images", "data.path=data/raw/pics"], "data/raw/pics: image data not found"),
        (["data.source=mnist"], "data/raw/mnist.npz: file not found; put the mnist .npz"),
    ],
)
def test_a_run_of_data_not_there_is_one_line_and_leaves_no_workspace_nor_run(
    tmp_path, overrides, message
):
    """Checked before Prefect or MLflow start: before, the line came among Prefect's, after a
    temporary server had started and an MLflow run had been opened and failed."""
    write_params(tmp_path, TINY_PARAMS)
    sets = [arg for override in overrides for arg in ("--set", override)]
    done = aefx("run", *sets, cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("aefx: error: ") and message in line
    assert not (tmp_path / "workspaces").exists() and not (tmp_path / "mlruns").exists()


def test_a_run_not_recorded_in_dvc_lock_says_why(tmp_path, monkeypatch):
    """The line after a run listed three reasons (params that differ, no DVC repository, no
    Git one), for the user to find theirs."""
    from aefx.config import PathsConfig
    from aefx.console import why_not_recorded

    monkeypatch.chdir(tmp_path)
    assert why_not_recorded(PathsConfig(workspace=Path("workspaces/3c044b8ae256"))) == (
        "the outputs went to workspaces/3c044b8ae256/, and dvc.lock records the project's own "
        "(a run of params.yaml as it stands, without --workspace)"
    )
    assert why_not_recorded(PathsConfig()) == (
        "this folder is no DVC project: it lacks dvc.yaml or .dvc/ (`dvc init` makes .dvc/)"
    )
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / ".dvc").mkdir()
    assert why_not_recorded(PathsConfig()) == (
        "DVC works inside a Git repository, and this folder is in none (`git init`)"
    )


def test_a_run_into_a_folder_it_would_overwrite_is_refused_in_one_line(tmp_path):
    write_params(tmp_path, TINY_PARAMS)
    mine = tmp_path / "results" / "data" / "encoded" / "mine.parquet"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"not aefx's")
    done = aefx("run", "--workspace", "results", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "results: data/encoded is already there" in done.stderr
    assert mine.read_bytes() == b"not aefx's" and not (tmp_path / "results" / LOCK_NAME).exists()
    assert not (tmp_path / "mlruns").exists()


def test_a_workspace_that_cannot_be_made_is_one_line_before_anything_runs(tmp_path):
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", "--workspace", "params.yaml/ws", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: params.yaml/ws: cannot write there (params.yaml is a file, not a folder)"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]


@pytest.mark.parametrize(
    ("params_text", "args", "needle"),
    [
        ("autoencoder: {epochs: -1}\n", [], "autoencoder.epochs"),
        ("autoencoder: {epochs: [\n", [], "not valid YAML"),
        ("{}\n", ["--set", "autoencoder.bottlneck=3"], "autoencoder.bottlneck: unknown key"),
        ("{}\n", ["--set", "nonsense"], "expected key=value"),
        # Made in memory without a look at the budget: 1,000,000 features took 24 GB and more.
        (
            "data: {memory_budget_mb: 1}\n",
            ["--set", "data.synthetic.n_features=1000"],
            "synthetic: needs about 8 MB in memory, over data.memory_budget_mb=1 (fewer "
            "data.synthetic.n_samples or n_features, or raise the budget)",
        ),
    ],
)
def test_bad_params_or_overrides_fail_before_anything_runs(tmp_path, params_text, args, needle):
    (tmp_path / "params.yaml").write_text(params_text)
    done = aefx("run", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and needle in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        ([], "sweep.grid is empty"),
        (["--set", "sweep.grid.autoencoder.epochs=[5, -1]"], "autoencoder.epochs"),
        (["--set", "sweep.grid.autoencoder.epochs=[5, 5]"], "two members have the same params"),
        (
            ["--set", "sweep.grid.autoencoder.conv_filters=[[8], [16]]"],
            "members autoencoder.conv_filters=[8] and autoencoder.conv_filters=[16] would be "
            "one run twice: neither reads autoencoder.conv_filters (read by the conv stack)",
        ),
        (
            ["--set", "sweep.grid.classifiers.knn.n_neighbors=[5, 500]"],
            "k-NN fits on 80 training rows, fewer than classifiers.knn.n_neighbors=500",
        ),
        (
            ["--set", "sweep.grid.autoencoder.bottleneck=[6, 20000000]"],
            "code 20000000 has 500,001,524 weights and needs about 17,166 MB to train",
        ),
    ],
)
def test_a_sweep_with_a_bad_grid_fails_before_anything_runs(tmp_path, grid, needle):
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("sweep", *grid, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and needle in done.stderr, done.stderr
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "workspaces").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one schedule: --cron EXPR or --interval SECONDS"),
        (["--cron", "0 3 * *"], "--cron '0 3 * *': Invalid cron string"),
        (["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"], "--timezone 'Mars/Olympus': not"),
        # Names Prefect refuses when the deployment is made, in a traceback.
        (
            ["--interval", "60", "--name", "nightly/eu"],
            "--name 'nightly/eu': a deployment name may not hold /, %, &, > or <\n",
        ),
        (["--interval", "60", "--name", " "], "--name: empty; a deployment needs a name\n"),
        # Past what a timedelta holds: an OverflowError traceback.
        (
            ["--interval", str(10**20)],
            f"--interval {10**20}: at most 86399999999999 seconds (999,999,999 days)\n",
        ),
    ],
)
def test_serve_refuses_a_bad_schedule_before_it_needs_a_server(tmp_path, args, message):
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("serve", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: {message}") and done.stderr.count("\n") == 1


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_a_run_of_bad_data_is_one_line_before_prefect_or_mlflow_start(tmp_path, case):
    """`aefx run` reads and checks the data first: before, the line came among Prefect's
    server and flow-run lines, and a FAILED MLflow run was left behind."""
    frame, data, needle = BAD_DATA[case]
    source = _user_data(tmp_path, frame, **data)
    done = aefx("run", cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("aefx: error: ") and needle in line
    assert str(source.relative_to(tmp_path)) in line
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()


def test_a_run_with_a_setting_too_large_for_the_data_is_one_line_before_prefect(tmp_path):
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", "--set", "classifiers.knn.n_neighbors=500", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: synthetic: k-NN fits on 80 training rows, fewer than "
        "classifiers.knn.n_neighbors=500; lower it, or give the training split more rows"
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()


def test_a_promote_metric_the_data_does_not_allow_is_one_line_before_prefect(tmp_path):
    """The RBF SVM logs no ROC AUC on three classes: promoting by it failed at the run's last
    step, with the encoder trained and registered (checked on 4becd4e)."""
    write_params(tmp_path, TINY_PARAMS)
    metric = "test_roc_auc.svm_rbf.encoded"
    promote = ("-s", "tracking.promote_alias=champion", "-s", f"tracking.promote_metric={metric}")
    done = aefx("run", "-s", "data.synthetic.n_classes=3", *promote, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"aefx: error: tracking.promote_metric {metric!r}: svm_rbf gives no class "
        "probabilities, so runs log its ROC AUC for two classes only, and synthetic has 3 "
        "classes; promote by its test_accuracy or test_f1_macro, or by another classifier's "
        "ROC AUC"
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "workspaces").exists()


def test_a_promote_metric_the_test_file_cannot_give_is_one_line_before_prefect(tmp_path):
    """A test file without rows of class 1 gives no ROC AUC: promoting by it trained,
    registered the encoder, then failed at the run's last step (checked on e227f76)."""
    rng = np.random.default_rng(4)
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    for name, labels in (("train.csv", [0, 1] * 30), ("test.csv", [0] * 10)):
        rows = pd.DataFrame(rng.normal(size=(len(labels), 4)), columns=list("abcd"))
        rows.assign(label=labels).to_csv(raw / name, index=False)
    data = {"source": "file", "path": "data/raw/train.csv", "test_path": "data/raw/test.csv"}
    write_params(tmp_path, {**TINY_PARAMS, "data": data})
    metric = "test_roc_auc.logreg.encoded"
    promote = ("-s", "tracking.promote_alias=champion", "-s", f"tracking.promote_metric={metric}")
    done = aefx("run", *promote, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"aefx: error: tracking.promote_metric {metric!r}: data/raw/test.csv has no rows of "
        "class(es) 1 that training has, so runs log no test ROC AUC (it needs every class); "
        "promote by a test_accuracy or test_f1_macro"
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "workspaces").exists()
    assert not (tmp_path / "data" / "processed").exists()


def test_an_autoencoder_over_the_memory_budget_is_refused_before_it_trains(tmp_path):
    """`aefx run` before Prefect or MLflow start, and `aefx stage train_autoencoder` (what `dvc
    repro` runs) before any seed trains: the tiny params' model needs about 60 KB."""
    write_params(tmp_path, TINY_PARAMS)
    budget = ("--set", "data.memory_budget_mb=0.05")
    done = aefx("run", *budget, cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        "aefx: error: autoencoder: deep-bn 12 -> 24 -> 12 -> code 6 has 1,674 weights and needs "
        "about 0.057 MB to train, over data.memory_budget_mb=0.05; hidden ["
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()
    assert not (tmp_path / "workspaces").exists()

    write_params(
        tmp_path, {**TINY_PARAMS, "data": {**TINY_PARAMS["data"], "memory_budget_mb": 0.05}}
    )
    for name in ("ingest", "scale"):
        assert aefx("stage", name, cwd=tmp_path).returncode == 0
    done = aefx("stage", "train_autoencoder", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == line
    assert not (tmp_path / "models").joinpath("autoencoders").exists()
    assert not (tmp_path / "metrics" / "train.json").exists()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # Parquet files of 1,000,000 columns (999,999 codes and the label), which could not be
        # read back: every seed trained, then the comparison failed in a traceback.
        (
            "bottleneck",
            999_999,
            "autoencoder: deep-bn 12 -> 24 -> 12 -> code 999999 makes codes of 999,999 "
            "columns, and the encoded splits (1,000,000 columns with the 1 carried beside them) "
            "would be Parquet files too wide to read back (999,999 columns at most); set "
            "autoencoder.bottleneck smaller (or autoencoder.bottleneck_ratio)",
        ),
        # Batch normalisation over one row: every seed trained to codes that held nothing (a
        # test MSE of 1.8e9 on the default table) and the run finished without a word.
        (
            "batch_size",
            1,
            "autoencoder.batch_size=1: the denoising autoencoder's batch normalisation (its "
            "deep-bn stack) learns nothing from batches of one row, whose every unit it sets to "
            "0; set autoencoder.batch_size to 2 or more, or autoencoder.base: dense (no batch "
            "normalisation)",
        ),
    ],
)
def test_an_autoencoder_that_cannot_serve_is_refused_before_anything_trains(
    tmp_path, key, value, message
):
    """`aefx run` refuses it before Prefect starts, `aefx stage train_autoencoder` (what `dvc
    repro` runs) before training."""
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", "--set", f"autoencoder.{key}={value}", cwd=tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line == f"aefx: error: {message}"
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()
    assert not (tmp_path / "workspaces").exists()

    changed = {**TINY_PARAMS["autoencoder"], key: value}
    write_params(tmp_path, {**TINY_PARAMS, "autoencoder": changed})
    for name in ("ingest", "scale"):
        assert aefx("stage", name, cwd=tmp_path).returncode == 0
    done = aefx("stage", "train_autoencoder", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == line
    assert not (tmp_path / "models").joinpath("autoencoders").exists()


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):  # a descriptor may close while it is listed
        return any(os.readlink(fd) == str(path.resolve()) for fd in fds.iterdir())
    return False


@pytest.mark.skipif(sys.platform != "linux", reason="reads the open files from /proc")
def test_an_interrupt_while_the_data_is_checked_says_nothing_was_started(tmp_path):
    """Ctrl-C while `aefx run` still reads its data: no MLflow run or Prefect server exists
    yet, so the line must not say one was marked KILLED (it did)."""
    path = _user_data(tmp_path, GOOD.head(0), name="big.csv")
    rows = pd.DataFrame(np.random.default_rng(0).normal(size=(2000, 20))).add_prefix("f")
    block = rows.assign(label=[0, 1] * 1000).to_csv(index=False, header=False)
    with path.open("w") as out:  # about 200 MB: read for a few tenths of a second
        out.write(",".join([*rows.columns, "label"]) + "\n" + block * 250)
    proc = start_command(*AEFX, "run", cwd=tmp_path)
    stderr = signal_when(proc, lambda: _has_open(proc.pid, path), poll=0.01)
    assert proc.returncode == 130, stderr
    assert stderr == "aefx: error: interrupted; nothing was started or written\n"
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["sweep", "-s", "sweep.grid.seeds=[[1], [2]]"],
        ["stage", "log_run"],
        ["compare-runs"],
        ["promote"],
        ["encode", "-m", "models:/aefx-encoder@champion", "-i", "new.csv", "-o", "codes.csv"],
        ["serve", "--cron", "0 3 * * *"],  # not at 3 am
    ],
)
@pytest.mark.usefixtures("direct")
def test_an_mlflow_server_that_does_not_answer_is_one_line_at_once(tmp_path, args):
    """MLflow's client retried a refused connection for about four minutes (measured: `aefx
    run` 4 min 18 s) and then printed a traceback."""
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": uri}})
    GOOD.to_csv(tmp_path / "new.csv", index=False)
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: MLflow tracking server {uri} is not reachable (Connection refused); "
        "start it, or point tracking.uri or MLFLOW_TRACKING_URI at one that runs\n"
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "codes.csv").exists()


@pytest.mark.usefixtures("direct")
def test_another_service_on_the_mlflow_port_is_one_line_at_once(tmp_path):
    """Prefect's server where MLflow's was meant to be (4200 for 5000): the TCP connection
    opens, MLflow's client got a 404 and `aefx run` ended in a traceback (13.7 s); a server
    answering 503 was retried for 4 min 22 s, then the same."""
    body = '{"detail": "Not Found"}'  # what Prefect's API answers
    with http_answering(404, body) as (uri, asked):
        write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": uri}})
        before = sorted(tmp_path.rglob("*"))
        done = aefx("run", cwd=tmp_path)
    assert done.returncode == 2 and asked == ["/api/2.0/mlflow/experiments/search"]
    assert done.stderr == (
        f"aefx: error: {uri} does not answer as an MLflow tracking server (not MLflow's API: "
        "another service on that port?); point tracking.uri or MLFLOW_TRACKING_URI at `mlflow "
        "server`'s address\n"
    )
    assert sorted(tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize(
    "args",
    [["run"], ["sweep", "-s", "sweep.grid.seeds=[[1], [2]]"], ["serve", "--cron", "0 3 * * *"]],
)
@pytest.mark.usefixtures("direct")
def test_a_prefect_api_that_does_not_answer_is_one_line_at_once(tmp_path, monkeypatch, args):
    """Prefect's client ended in a traceback (`aefx run`: after 8 s, `aefx serve`: httpx's
    ConnectError)."""
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    monkeypatch.setenv("PREFECT_API_URL", url)
    write_params(tmp_path, TINY_PARAMS)
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: Prefect API {url} is not reachable (Connection refused); start it with "
        "`prefect server start`, or unset PREFECT_API_URL to run on a temporary server\n"
    )
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("url", ["127.0.0.1:4200/api", "localhost:4200", "http:///api"])
@pytest.mark.usefixtures("direct")
def test_a_prefect_api_url_that_is_no_http_address_is_one_line_saying_so(
    tmp_path, monkeypatch, url
):
    """A URL without its http:// (or its host) was `did not answer (UnsupportedProtocol)`, as
    if a server there were down."""
    monkeypatch.setenv("PREFECT_API_URL", url)
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: PREFECT_API_URL '{url}' is not an http:// or https:// address with a "
        "host; point it at `prefect server start`'s API, such as http://127.0.0.1:4200/api\n"
    )
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    ("status", "body", "path", "message"),
    [
        # The server's root (its UI) for its API: PREFECT_API_URL without /api.
        (200, "<html>Prefect UI</html>", "", "does not answer as a Prefect API (another service"),
        (404, '{"detail": "Not Found"}', "/api", "does not answer as a Prefect API (another"),
        (401, '{"detail": "Unauthorized"}', "/api", "refused the request (HTTP 401); set"),
        (503, "<html>Service Unavailable</html>", "/api", "did not answer (HTTP 503)"),
    ],
)
@pytest.mark.usefixtures("direct")
def test_a_prefect_api_url_that_is_not_a_working_prefect_is_one_line(
    tmp_path, monkeypatch, status, body, path, message
):
    """The port answers, but not as Prefect's API: `aefx run` ended in Prefect's traceback after
    8.4 s (RuntimeError: Failed to reach API), or after 2 min 8 s of retries for a 503."""
    write_params(tmp_path, TINY_PARAMS)
    with http_answering(status, body) as (server, asked):
        monkeypatch.setenv("PREFECT_API_URL", server + path)
        done = aefx("run", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr and done.stderr.startswith("aefx: error: ")
    assert asked == [f"{path}/admin/version"]  # asked once
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    "args",
    [["run"], ["ui"], ["compare-runs"], ["stage", "log_run"], ["serve", "--cron", "0 3 * * *"]],
)
def test_a_folder_as_the_mlflow_store_is_one_line_naming_the_sqlite_uri(tmp_path, args):
    """MLflow 3 refuses its file store unless MLFLOW_ALLOW_FILE_STORE is set: `tracking.uri:
    mystore` ended `aefx run` in MLflow's traceback after 11 s."""
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": "mystore"}})
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "aefx: error: MLflow tracking URI 'mystore' is a folder, whose file store MLflow 3 "
        f"refuses; use sqlite:///{tmp_path.resolve() / 'mystore' / 'mlflow.db'} (or set "
        "MLFLOW_ALLOW_FILE_STORE=true)\n"
    )
    assert not (tmp_path / "mystore").exists()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            ["run"],
            "params.yaml: params file not found (the project is {root}, above this folder: run "
            "aefx there)",
        ),
        (
            ["run", "-p", "../../params.yaml"],
            "../../params.yaml: the params file of the project {root}, but aefx runs in {here}, "
            "a folder inside it, and takes the folder it runs in for the project (its data "
            "paths, outputs and MLflow store): run aefx from {root}",
        ),
        (["compare-runs", "-p", "{root}/params.yaml"], "{root}/params.yaml: the params file of"),
        # The project's encoder, or a run in its store: `models/encoder.json: no encoder yet
        # (`aefx run` writes it)`, `no MLflow store at sqlite:///.../notebooks/mine/mlruns/...`.
        (
            ["encode", "-i", "{root}/new.csv", "-o", "codes.csv"],
            "params.yaml: params file not found (the project is {root}, above",
        ),
        (
            [
                "score",
                "-m",
                "0123456789abcdef0123456789abcdef",
                "-i",
                "{root}/new.csv",
                "-o",
                "s.csv",
            ],
            "params.yaml: params file not found (the project is {root}, above",
        ),
    ],
)
def test_aefx_in_a_folder_inside_the_project_is_told_to_run_from_the_project(
    tmp_path, args, problem
):
    """`aefx run -p ../params.yaml` from the project's notebooks/ made a second MLflow store
    and workspaces/ there, and read the data paths from there."""
    root = tmp_path.resolve()
    write_params(root)
    (root / "dvc.yaml").write_text("stages: {}\n")
    (root / "new.csv").write_text("f00,f01\n1,2\n")
    here = root / "notebooks" / "mine"
    here.mkdir(parents=True)
    done = aefx(*(a.format(root=root) for a in args), cwd=here)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"aefx: error: {problem.format(root=root, here=here)}")
    assert done.stderr.count("\n") == 1
    assert not list(here.iterdir()) and not (root / "mlruns").exists()


@pytest.mark.parametrize(
    ("uri", "args"),
    [("127.0.0.1:5000", ["run"]), ("mlflow.example.org:443/", ["compare-runs"])],
)
def test_a_server_address_without_its_scheme_is_one_line_naming_the_http_uri(tmp_path, uri, args):
    """`127.0.0.1:5000` was taken for a folder of that name (`use sqlite:///.../127.0.0.1:5000/
    mlflow.db`), `localhost:5000` for a store of the scheme `localhost://`."""
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": uri}})
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: MLflow tracking URI '{uri}' names a host and port without a scheme: for "
        f"an MLflow server, write http://{uri}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("args", [["run"], ["compare-runs"], ["promote"]])
def test_a_sqlite_store_path_that_holds_no_database_is_one_line(tmp_path, args):
    """`tracking.uri: sqlite:///notes.txt` (a file of something else) and a folder there each
    ended in SQLAlchemy's traceback ("file is not a database", "unable to open database
    file"); the file is left as it was."""
    other = tmp_path / "notes.txt"
    other.write_text("not a database\n")
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": f"sqlite:///{other}"}})
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: MLflow tracking URI sqlite:///{other} names a file that is not an SQLite "
        "database; point tracking.uri or MLFLOW_TRACKING_URI at MLflow's store (or a path not "
        "yet there)\n"
    )
    assert other.read_text() == "not a database\n"

    folder = tmp_path / "stores"
    folder.mkdir()
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": f"sqlite:///{folder}"}})
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: MLflow tracking URI sqlite:///{folder} names a folder; name the database "
        f"file in it (sqlite:///{folder / 'mlflow.db'})\n"
    )
    assert list(folder.iterdir()) == [] and not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (
            "s3://team-bucket/mlflow",
            "s3:// is not a store MLflow tracks runs in (sqlite:///FILE, postgresql://, "
            "mysql://, mssql://, http(s):// of an MLflow server, databricks)",
        ),
        ("sqllite:///mlflow.db", "sqllite:// is not a store MLflow tracks runs in"),
        (
            "postgresql://mlflow@127.0.0.1:9/mlflow",
            "its database driver psycopg2 is not installed here; install it beside aefx, or "
            "use another store",
        ),
        ("mysql+nodriver://127.0.0.1:9/mlflow", "Can't load plugin"),
    ],
)
@pytest.mark.parametrize("args", [["run"], ["compare-runs"]])
def test_a_tracking_uri_of_no_store_mlflow_can_open_is_one_line(tmp_path, args, uri, message):
    """An artifact store's URI, a misspelt scheme or a database whose driver is not installed
    ended `aefx run` in MLflow's or SQLAlchemy's traceback, once the flow had started."""
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": uri}})
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: MLflow tracking URI {uri!r}: {message}")
    assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize(
    "args",
    [
        ["compare-runs"],
        ["promote"],
        ["encode", "-m", "0123456789abcdef0123456789abcdef", "-i", "new.csv", "-o", "c.csv"],
    ],
)
def test_commands_that_read_runs_do_not_create_an_empty_store(tmp_path, args):
    """Before any `aefx run`, they had MLflow create mlruns/mlflow.db (with its "Updating
    database tables" log line) only to find nothing in it."""
    write_params(tmp_path, TINY_PARAMS)
    GOOD.to_csv(tmp_path / "new.csv", index=False)
    done = aefx(*args, cwd=tmp_path)
    store = f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    assert done.returncode == 2
    assert done.stderr == f"aefx: error: no MLflow store at {store} yet: run `aefx run` first\n"
    assert not (tmp_path / "mlruns").exists()


def test_a_folder_store_that_mlflow_is_told_to_allow_is_left_to_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": "mystore"}})
    done = aefx("compare-runs", cwd=tmp_path)
    assert done.returncode == 2
    # MLflow opened the folder store: the line is aefx's own, about an empty experiment.
    assert done.stderr.startswith("aefx: error: no MLflow experiment 'aefx' in mystore")


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_dask_scheduler_that_does_not_answer_is_one_line_at_once(tmp_path, command):
    """distributed's client gave up after 30 s with a traceback (`aefx run`: 47 s in all)."""
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    write_params(tmp_path, {**TINY_PARAMS, "sweep": {"grid": {"seeds": [[1], [2]]}}})
    done = aefx(command, "--dask-address", address, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: Dask scheduler {address} is not reachable (Connection refused); start "
        "one with `dask scheduler`, or use --workers N for a local cluster\n"
    )
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("garbage", "missing port number in address 'garbage'"),
        ("tcp://", "missing port number in address ''"),
        ("tcp://127.0.0.1:x", "invalid literal for int() with base 10: 'x'"),
        ("foo://127.0.0.1:1", "unknown address scheme 'foo'"),
    ],
)
def test_a_dask_address_dask_cannot_read_is_one_line_before_anything_runs(
    tmp_path, address, reason
):
    """Such an address passed the check (it has no scheme the check knew, or no port) and
    failed with distributed's ValueError traceback at the classifier cells, after the
    autoencoders had trained and written their outputs."""
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", "--dask-address", address, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: Dask scheduler address {address!r}: {reason}")
    assert done.stderr.endswith("; give tcp://HOST:PORT, as `dask scheduler` prints it\n")
    assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_workers_past_int64_are_refused_as_out_of_range(tmp_path, command):
    """Such a count reached the compute settings' own check, which printed pydantic's
    "compute: Value error, ..." under the section's name, not the option's."""
    from typer.testing import CliRunner

    from aefx.cli import app

    write_params(tmp_path, TINY_PARAMS)
    done = CliRunner().invoke(
        app,
        [command, "-p", str(tmp_path / "params.yaml"), "--workers", str(10**20)],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 2
    assert f"Invalid value for '--workers': {10**20} is not in the range 1<=x<=" in done.output


def test_a_dask_address_without_a_scheme_is_checked_as_tcp(tmp_path):
    """Dask reads host:port as tcp://host:port; the check asked nothing of an address without
    a scheme, so a scheduler that was down was found only at the classifier cells."""
    port = free_port()  # nothing listens there
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("run", "--dask-address", f"127.0.0.1:{port}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"aefx: error: Dask scheduler tcp://127.0.0.1:{port} is not reachable (Connection refused)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_another_service_at_the_dask_address_is_one_line_not_a_hang(tmp_path):
    """distributed waits for the peer's handshake with no time limit: with a web server at
    the address, `aefx run` trained the autoencoder and then hung at the classifier cells
    (still waiting when stopped after 200 s)."""
    write_params(tmp_path, TINY_PARAMS)
    with http_answering(200, "<html>a web page</html>") as (url, _):
        address = url.replace("http://", "tcp://")
        done = aefx("run", "--dask-address", address, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        f"aefx: error: {address} does not answer as a Dask scheduler (no handshake within 5 s: "
        "another service on that port?); point --dask-address or compute.dask_address at "
        "`dask scheduler`'s address\n"
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "models").exists()


def test_a_dask_scheduler_that_answers_passes_the_check():
    from distributed import LocalCluster

    from aefx.servers import require_dask_scheduler

    with LocalCluster(n_workers=0, processes=False, protocol="tcp://") as cluster:
        require_dask_scheduler(cluster.scheduler_address)


def test_the_server_checks_leave_prefect_reading_aefxs_settings(tmp_path):
    """Prefect caches its settings at their first read. The Prefect API check read them
    before `aefx run` had set its environment, so stage logs no longer went to the API."""
    write_params(tmp_path, TINY_PARAMS)
    probe = (
        "from aefx.cli.pipeline_commands import check_places\n"
        "from aefx.config import load_params\n"
        "check_places(load_params())\n"
        "from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS\n"
        "print(sorted(PREFECT_LOGGING_EXTRA_LOGGERS.value()))\n"
    )
    env = {k: v for k, v in subprocess_env().items() if k != "PREFECT_LOGGING_EXTRA_LOGGERS"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['aefx', 'flows', 'tasks']"


@pytest.mark.usefixtures("direct")
def test_serve_reads_the_prefect_api_from_the_active_profile_too(tmp_path, monkeypatch):
    """`prefect config set PREFECT_API_URL=...` keeps it in a profile, not the environment;
    `aefx serve` read only the environment and refused, saying to export it."""
    url = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    home = tmp_path / "prefect-home"
    home.mkdir()
    (home / "profiles.toml").write_text(
        f'active = "mine"\n\n[profiles.mine]\nPREFECT_API_URL = "{url}"\n'
    )
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    write_params(tmp_path, TINY_PARAMS)
    done = aefx("serve", "--cron", "0 3 * * *", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"aefx: error: Prefect API {url} is not reachable"), done.stderr
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "no-profiles"))  # none set anywhere
    done = aefx("serve", "--cron", "0 3 * * *", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("aefx: error: schedules need a Prefect server"), done.stderr


def test_a_prefect_database_this_prefect_cannot_start_on_is_one_line(tmp_path, monkeypatch):
    """The temporary server's database under PREFECT_HOME when it is no database, or when a
    newer Prefect has migrated it (a home shared with another project's Prefect): the server
    did not start and `aefx run` ended after 50 s in Prefect's "Timed out while attempting to
    connect to ephemeral Prefect API server" traceback."""
    import sqlite3

    import prefect

    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    write_params(tmp_path, TINY_PARAMS)
    home = tmp_path / "prefect-home"
    home.mkdir()
    monkeypatch.setenv("PREFECT_HOME", str(home))
    (home / "prefect.db").write_text("not a database")
    done = aefx("run", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        f"aefx: error: Prefect's database {home / 'prefect.db'} is not a SQLite database; move "
        "it aside (a temporary server makes a new one), or set PREFECT_HOME to another folder\n",
    )
    (home / "prefect.db").unlink()
    with contextlib.closing(sqlite3.connect(home / "prefect.db")) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")  # a later Prefect's
        db.commit()
    done = aefx("run", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        f"aefx: error: Prefect's database {home / 'prefect.db'} was migrated by another Prefect "
        f"version (migration ffffffffffff, unknown to Prefect {prefect.__version__} here); set "
        "PREFECT_HOME to a folder of this project's own, or move the file aside\n",
    )
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "data" / "processed").exists()


def test_unknown_stage(tmp_path):
    write_params(tmp_path)
    done = aefx("stage", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "unknown stage 'nope'" in done.stderr


def test_a_stage_run_before_its_inputs_exist_names_the_stage_that_writes_them(tmp_path):
    write_params(tmp_path)
    done = aefx("stage", "encode_splits", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "aefx: error: data/scaled/train.parquet: not there yet, and stage encode_splits reads "
        "it; run `aefx stage scale` first, or `dvc repro encode_splits` for every stage it needs\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]  # nothing written, no lock


def test_dvc_repro_refuses_classifier_settings_too_large_before_the_autoencoders_train(tmp_path):
    """`aefx stage train_autoencoder` (what `dvc repro` runs) makes the check that `aefx run`
    makes first: before, the autoencoders trained and compare_classifiers failed after them."""
    write_params(tmp_path, {**TINY_PARAMS, "classifiers": {"knn": {"n_neighbors": 500}}})
    for name in ("ingest", "scale"):
        assert aefx("stage", name, cwd=tmp_path).returncode == 0
    done = aefx("stage", "train_autoencoder", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "aefx: error: data/scaled/train.parquet: k-NN fits on 80 training rows, fewer than "
        "classifiers.knn.n_neighbors=500; lower it, or give the training split more rows"
    )
    assert not (tmp_path / "models").joinpath("autoencoders").exists()
    assert not (tmp_path / "metrics" / "train.json").exists()


@pytest.mark.parametrize(
    ("problem", "width", "reason"),
    [
        (OSError(), None, "OSError"),  # no message: was an IndexError of its own
        (ValueError("\n  the reason\nmore"), None, "the reason"),
        (ValueError("one two three four"), 12, "one two..."),
        (ValueError("x" * 20), 12, "x" * 9 + "..."),  # one long word: cut where it must be
        ("one two", 12, "one two"),
    ],
)
def test_a_reason_is_one_line_cut_after_a_word(problem, width, reason):
    from aefx.errors import first_line

    assert first_line(problem, width) == reason


def test_every_stage_names_a_missing_input_and_an_earlier_stage_that_writes_it(tmp_path):
    from aefx.config import Params
    from aefx.errors import AefxError
    from aefx.pipeline import STAGE_NAMES, STAGES, check_inputs
    from aefx.workspace import in_workspace

    params = in_workspace(Params(), tmp_path)  # nothing written there yet
    check_inputs(STAGES[0], params)  # ingest reads the data source, which it checks itself
    for position, later in enumerate(STAGES[1:], start=1):
        with pytest.raises(AefxError, match=rf"stage {later.name} reads it") as caught:
            check_inputs(later, params)
        writer = str(caught.value).split("run `aefx stage ")[1].split("`")[0]
        assert STAGE_NAMES.index(writer) < position


def test_dvc_yaml_is_generated_from_the_stage_graph():
    from aefx.pipeline import STAGE_NAMES, dvc_yaml_text

    repo = Path(__file__).resolve().parents[1]
    committed = (repo / "dvc.yaml").read_text()
    assert committed == dvc_yaml_text(), "run `aefx dvc-yaml` after changing aefx/pipeline.py"
    stages = yaml.safe_load(committed)["stages"]
    assert list(stages) == list(STAGE_NAMES)
    assert all(s["cmd"] == f"aefx stage {name}" for name, s in stages.items())
    # Changing a classifier setting must not retrain the autoencoder.
    assert "classifiers" not in str(stages["train_autoencoder"]["params"])
    assert stages["compare_classifiers"]["params"][0] == "classifiers"


def test_dvc_yaml_keeps_a_stage_of_the_users_rather_than_dropping_it(tmp_path):
    """`aefx dvc-yaml` wrote the graph over dvc.yaml whole: a stage added by hand was lost."""
    from aefx.pipeline import dvc_yaml_text

    own = yaml.safe_load(dvc_yaml_text())
    own["stages"]["export"] = {"cmd": "python export.py", "deps": ["data/encoded"]}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(own, sort_keys=False))
    before = (tmp_path / "dvc.yaml").read_text()
    done = aefx("dvc-yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "aefx: error: dvc.yaml: has stage(s) export that aefx's graph has not, and writing it "
        "would drop them; move them to a dvc.yaml in a folder of their own (DVC reads every "
        "one), then run this again\n"
    )
    assert (tmp_path / "dvc.yaml").read_text() == before
    # The graph's own stages, however out of date, are its to rewrite.
    del own["stages"]["export"]
    own["stages"]["scale"]["deps"] = ["old/path"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(own, sort_keys=False))
    done = aefx("dvc-yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dvc.yaml").read_text() == dvc_yaml_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvc.yaml"]


def test_sigterm_during_training_ends_the_mlflow_run_killed(tmp_path):
    """A real process, a real signal: the run is closed KILLED, not left RUNNING."""

    from mlflow.tracking import MlflowClient

    write_params(
        tmp_path,
        {**TINY_PARAMS, "autoencoder": {"epochs": 5000, "batch_size": 8, "bottleneck_ratio": 0.5}},
    )
    proc = start_command(*AEFX, "run", cwd=tmp_path)
    store = tmp_path / "mlruns" / "mlflow.db"
    # Stop the process 8 s after scaling, while the autoencoder trains.
    stderr = signal_when(proc, (tmp_path / "data" / "scaled" / "train.parquet").exists, settle=8)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    client = MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert not (tmp_path / "models" / "autoencoders").exists()  # nothing half-written


def test_tensorflow_is_imported_without_its_start_up_lines_and_stderr_comes_back():
    """TensorFlow 2.21 prints "oneDNN custom operations are on" through absl on some CPUs
    whatever TF_CPP_MIN_LOG_LEVEL says; those lines came before aefx's one-line messages."""
    probe = (
        "import sys\n"
        "from aefx.console import import_tensorflow_quietly\n"
        "import_tensorflow_quietly()\n"
        "assert 'tensorflow' in sys.modules\n"
        "import tensorflow as tf\n"
        "tf.constant(1.0) + 1.0\n"
        "sys.stderr.write('stderr is back')\n"
    )
    env = {**subprocess_env(), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "stderr is back"


def test_mlflow_says_only_its_warnings_once_the_environment_is_quiet(tmp_path):
    """MLflow's INFO lines came among Prefect's, in a format of their own: "Creating initial
    MLflow database tables..." for each new store, and one as each encoder was logged."""
    from aefx.console import QUIET_ENV

    probe = (
        "import logging\n"
        "from aefx.console import quiet_environment\n"
        "quiet_environment()\n"
        "import mlflow\n"
        "mlflow.MlflowClient('sqlite:///new.db').search_experiments()\n"
        "logging.getLogger('mlflow.probe').warning('a warning')\n"
    )
    env = {k: v for k, v in subprocess_env().items() if k not in QUIET_ENV}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [line.split(" ", 2)[-1] for line in done.stderr.splitlines()] == [
        "WARNING mlflow.probe: a warning"
    ]


LONG_TRAINING = {**TINY_PARAMS, "autoencoder": {"epochs": 5000, "batch_size": 8}}


def _temporary_server_port(stderr: str) -> int:
    found = re.search(r"temporary server on http://127\.0\.0\.1:(\d+)", stderr)
    assert found, stderr
    return int(found.group(1))


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_signal_to_the_process_group_ends_the_run_in_one_line_and_its_prefect_server(tmp_path):
    """A terminal's Ctrl-C, `timeout` and many CI runners signal the whole process group.
    Prefect's temporary server was in it and stopped with the run; the flow then spent minutes
    retrying to report its crash to the gone server and ended in a traceback, exit code 1.
    (SIGTERM here: a test run in the background may inherit SIGINT ignored. aefx handles both
    the same way.)"""
    from mlflow.tracking import MlflowClient

    write_params(tmp_path, LONG_TRAINING)
    proc = start_command(*AEFX, "run", cwd=tmp_path, new_session=True)  # a terminal's job
    scaled = tmp_path / "data" / "scaled" / "train.parquet"
    stderr = signal_when(proc, scaled.exists, settle=8, group=True)
    assert proc.returncode == 130, stderr
    assert "aefx: error: interrupted" in stderr and "Traceback" not in stderr
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("aefx").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert not _answers(_temporary_server_port(stderr))  # stopped on the way out


@pytest.mark.skipif(sys.platform != "linux", reason="the server is tied to aefx by prctl")
def test_prefects_temporary_server_does_not_outlive_a_killed_run(tmp_path):
    """SIGKILL gives aefx no chance to stop the server it started; the kernel stops it."""
    write_params(tmp_path, LONG_TRAINING)
    proc = start_command(*AEFX, "run", cwd=tmp_path)
    scaled = tmp_path / "data" / "scaled" / "train.parquet"
    stderr = signal_when(proc, scaled.exists, settle=3, signum=signal.SIGKILL)
    port = _temporary_server_port(stderr)
    deadline = time.monotonic() + 30
    while _answers(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _answers(port), "Prefect's temporary server outlived the run"


def test_output_paths_print_whole_on_their_line_however_long(tmp_path, monkeypatch):
    """A run in a deep workspace: each kind of output stays one line in a log (rich would break
    it at the console's width) and a path's brackets are kept, not read as markup."""
    from aefx.config import Params
    from aefx.console import print_outputs, rich_console
    from aefx.workspace import in_workspace

    monkeypatch.delenv("COLUMNS", raising=False)
    paths = in_workspace(Params(), tmp_path / ("w" * 120) / "[run 2]").paths
    with contextlib.redirect_stdout(io.StringIO()) as log_file:
        print_outputs(rich_console(), paths)
    lines = log_file.getvalue().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["Data", "Models", "Reports", "Plots"]
    assert lines[0] == f"Data: {paths.train}, {paths.test}, {paths.data_schema}, " + (
        f"{paths.scaler}, {paths.encoded}"
    )
    assert lines[1] == (
        f"Models: {paths.autoencoders}, {paths.encoders}, {paths.encoder}, {paths.encoder_meta}, "
        f"{paths.autoencoder}"  # the last is what `aefx score` and `aefx reconstruct` load
    )
    assert lines[3].endswith(str(paths.confusion_plot))


@pytest.mark.usefixtures("direct")
def test_aefx_ui_of_a_tracking_server_points_at_the_servers_own_ui(tmp_path, monkeypatch):
    """`mlflow ui` cannot take a server as its store: `make ui` with MLFLOW_TRACKING_URI set
    to one ended in MLflow's UnsupportedModelRegistryStoreURIException traceback."""
    write_params(tmp_path)
    # Stands in for the tracking server: it answers MLflow's question as MLflow would.
    with http_answering(200, '{"experiments": []}') as (uri, _):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        done = aefx("ui", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    served = f"MLflow UI: {uri} (the tracking server serves it; open it in a browser)\n"
    assert done.stdout == served
    done = aefx("ui", cwd=tmp_path)  # the server is gone
    assert done.returncode == 2 and f"MLflow tracking server {uri} is not reachable" in done.stderr


@pytest.mark.usefixtures("direct")
def test_aefx_ui_of_a_databricks_workspace_points_at_the_workspace(tmp_path, monkeypatch):
    """With `tracking.uri: databricks` `aefx ui` started a local MLflow UI reading the
    workspace through MLflow's client; the workspace serves its own."""
    write_params(tmp_path, {**TINY_PARAMS, "tracking": {"uri": "databricks"}})
    for name in ("DATABRICKS_CONFIG_PROFILE", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "none.cfg"))
    with http_answering(404, "<html>the workspace</html>") as (url, _):
        monkeypatch.setenv("DATABRICKS_HOST", url)
        monkeypatch.setenv("DATABRICKS_TOKEN", "t")
        done = aefx("ui", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"MLflow UI: {url} (the workspace serves it: Experiments, in its sidebar)\n"
    )


def test_aefx_ui_serves_the_projects_store(tmp_path):
    """`aefx ui` as the README says: the MLflow server on 127.0.0.1 answers with this project's
    experiment; a taken port is one line and a non-zero exit (MLflow itself exits 0)."""
    from mlflow.tracking import MlflowClient

    write_params(tmp_path)
    (tmp_path / "mlruns").mkdir()
    MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}").create_experiment("aefx")
    with _ui_server(cwd=tmp_path) as (server, port):
        answer = _experiment_from_ui(server, port)
        assert answer is not None and answer["experiment"]["name"] == "aefx"

        done = aefx("ui", "--port", str(port), cwd=tmp_path)  # taken by the first
        assert done.returncode == 2
        assert done.stderr.startswith(f"aefx: error: port {port} on 127.0.0.1 is not free")
        assert done.stderr.count("\n") == 1


def test_the_ui_command_a_run_names_opens_its_store_from_where_it_ran(tmp_path, monkeypatch):
    """A run with its own params file and --set tracking.uri, outside aefx's checkout: the
    summary said `make ui (or: .venv/bin/aefx ui)`, which there is no Makefile for, and which
    reads params.yaml's store. The command it names now serves the run's own store."""
    import shlex

    from mlflow.tracking import MlflowClient

    from aefx.console import ui_line

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)  # params.yaml: the project's own store, which the run did not use
    (tmp_path / "params.yaml").rename(tmp_path / "other.yaml")
    store = f"sqlite:///{tmp_path / 'elsewhere.db'}"  # the run's, given by --set
    MlflowClient(store).create_experiment("aefx")

    line = ui_line(Path("other.yaml"), store, [f"tracking.uri={store}", "seeds=[1]"])
    assert line.startswith("Open the MLflow UI:  aefx ui ")  # no Makefile, no .venv here
    [program, *args] = shlex.split(line.split(":  ", 1)[1])
    assert program == "aefx" and args[:3] == ["ui", "--params", "other.yaml"]
    with _ui_server(*args[1:], cwd=tmp_path) as (server, port):
        answer = _experiment_from_ui(server, port)
        assert answer is not None and answer["experiment"]["name"] == "aefx"
    assert not (tmp_path / "mlruns").exists()  # other.yaml's own store was never opened
    # Its store unchanged by --set: the params file alone says where it is.
    assert ui_line(Path("other.yaml"), None, ["seeds=[1]"]) == (
        "Open the MLflow UI:  aefx ui --params other.yaml"
    )

    # In aefx's checkout, set up by make, for params.yaml: `make ui`, the README's command.
    write_params(tmp_path)
    (tmp_path / "Makefile").write_text("ui: .venv/stamp\n\t.venv/bin/aefx ui\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "aefx").write_text("#!/bin/sh\n")
    assert ui_line(Path("params.yaml"), None) == (
        "Open the MLflow UI:  make ui  (or: .venv/bin/aefx ui)"
    )
    # A tracking server serves its own UI: its address, as `aefx ui` prints it.
    assert ui_line(Path("params.yaml"), "http://127.0.0.1:1") == (
        "MLflow UI: http://127.0.0.1:1 (the tracking server serves it; open it in a browser)"
    )


@contextlib.contextmanager
def _ui_server(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """`aefx ui ARGS` started in ``cwd`` on a free port, and stopped on the way out."""
    port = free_port()
    server = subprocess.Popen(
        [*AEFX, "ui", *args, "--port", str(port)],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield server, port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _experiment_from_ui(server: subprocess.Popen, port: int) -> dict | None:
    """The 'aefx' experiment as the UI's server answers for it, once it answers."""
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=aefx"
    for _ in range(240):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            assert server.poll() is None, "aefx ui exited before answering"
            time.sleep(0.5)
    return None


def _process_group(pgid: int) -> list[str]:
    """The command lines of the processes in process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # after the name: state, parent, group
            found.append(command)
    return found


def test_aefx_ui_starts_no_job_runner_and_stops_at_ctrl_c_without_a_traceback(tmp_path):
    """MLflow's job runner serves GenAI features aefx does not use: it made the UI 15
    processes holding about 3.1 GB, and its shutdown printed a KeyboardInterrupt traceback at
    Ctrl-C. Each of the server's workers printed a Starlette deprecation warning too."""
    from mlflow.tracking import MlflowClient

    write_params(tmp_path)
    (tmp_path / "mlruns").mkdir()
    MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}").create_experiment("aefx")
    port = free_port()
    with (tmp_path / "ui.err").open("w") as stderr:
        server = subprocess.Popen(
            [*AEFX, "ui", "--port", str(port)],
            cwd=tmp_path,
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        assert _experiment_from_ui(server, port) is not None
        started = _process_group(server.pid)
        assert any("uvicorn" in command for command in started)  # the group is the server's
        assert not [c for c in started if "_job_runner" in c or "huey" in c]
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        server.wait(timeout=60)
    for _ in range(60):
        if not _process_group(server.pid):
            break
        time.sleep(0.5)
    assert _process_group(server.pid) == []
    said = (tmp_path / "ui.err").read_text()
    assert "Traceback" not in said and "DeprecationWarning" not in said


@pytest.mark.parametrize("command", ["encode", "score", "reconstruct"])
def test_a_chunk_size_past_int64_is_refused_before_anything_is_read(tmp_path, command):
    """`--rows 10**20` was pyarrow's OverflowError traceback reading the first chunk."""
    from typer.testing import CliRunner

    from aefx.cli import app

    table = tmp_path / "rows.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    out = tmp_path / "out.csv"
    done = CliRunner().invoke(
        app,
        [command, "--rows", str(10**20), "-i", str(table), "-o", str(out)],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 2
    assert f"Invalid value for '--rows': {10**20} is not in the range 1<=x<=" in done.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        # `--seed -1` ended in NumPy's seeding, with a traceback.
        ("--seed", "-1", "-1 is not in the range 0<=x<=4294967295."),
        # Past int64: TensorFlow's "out-of-range integer" and an OverflowError reading the
        # chunks, both tracebacks after the MLflow run had started.
        ("--batch-size", str(10**20), f"{10**20} is not in the range 1<=x<=9223372036854775807."),
        ("--rows", str(2**63), f"{2**63} is not in the range 1<=x<=9223372036854775807."),
    ],
)
def test_train_stream_refuses_a_number_numpy_cannot_take(tmp_path, option, value, message):
    from typer.testing import CliRunner

    from aefx.cli import app

    table = tmp_path / "rows.csv"
    table.write_text("a,b,label\n1,2,x\n3,4,y\n")
    out = tmp_path / "model"
    done = CliRunner().invoke(
        app,
        ["train-stream", option, value, "-i", str(table), "-o", str(out)],
        env={"COLUMNS": "200"},
    )
    assert done.exit_code == 2
    assert f"Invalid value for '{option}': {message}" in done.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["encode", "-i", "rows.csv", "-o", "codes.csv", "--rows", "0"],
            "Invalid value for '--rows': 0 is not in the range 1<=x<=9223372036854775807. "
            "See aefx encode --help.",
        ),
        (["encode", "-i", "rows.csv"], "Missing option '--output' / '-o'. See aefx encode --help."),
        (
            ["run", "--seeds", "3"],
            "No such option: --seeds (Possible options: --set). See aefx run --help.",
        ),
        (["ecnode"], "No such command 'ecnode'. Did you mean 'encode'? See aefx --help."),
        # Click raises this one without its context: the command is known all the same.
        (["run", "-s"], "Option '-s' requires an argument. See aefx run --help."),
    ],
)
def test_a_command_line_mistake_is_one_line(tmp_path, args, line):
    """Click's usage, a hint and a boxed message came on six lines for these, unlike every
    other user error."""
    done = aefx(*args, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"aefx: error: {line}\n"
    assert list(tmp_path.iterdir()) == []


def test_aefx_alone_still_prints_its_help(tmp_path):
    done = aefx(cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == ""
    assert "Usage: aefx [OPTIONS] COMMAND [ARGS]..." in done.stdout and "encode" in done.stdout


def test_version_is_the_installed_packages():
    """`aefx --version` says which aefx made a run: the version pyproject.toml reads from
    aefx.__version__ and MLflow's pkg.aefx tag records (aefx.provenance)."""
    from importlib.metadata import version

    from typer.testing import CliRunner

    from aefx.cli import app

    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0
    assert done.output == f"aefx {version('aefx')}\n"


@pytest.mark.parametrize("columns", [80, 40])
def test_compare_runs_shows_every_run_on_a_narrow_terminal(tmp_path, monkeypatch, columns):
    """The default five runs on an 80-column terminal: rich cropped the one table at the
    terminal's edge, so the fourth run was cut through and the fifth left out without a word.
    The runs now come in pages that fit, each with every row, in order, newest first."""
    from aefx.tracking import client

    write_params(tmp_path, TINY_PARAMS)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    store = client(uri)
    experiment = store.create_experiment("aefx")
    ids = []
    for n in range(5):
        run = store.create_run(experiment, tags={"aefx.kind": "pipeline"}, start_time=1000 + n)
        store.log_param(run.info.run_id, "autoencoder.bottleneck", str(100 + n))
        store.log_metric(run.info.run_id, "test_accuracy.logreg.encoded", 0.9 + n / 100)
        store.set_terminated(run.info.run_id)
        ids.insert(0, run.info.run_id[:8])

    monkeypatch.setenv("COLUMNS", str(columns))
    done = aefx("compare-runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    heads = [line for line in lines if line.startswith("┃")]
    assert re.findall(r"[0-9a-f]{8}", " ".join(heads)) == ids
    cells = re.compile(r"│\s*([^│]*?)\s*(?=│)")
    values = [cells.findall(line)[1:] for line in lines if "autoencoder.bottle" in line]
    accuracies = [cells.findall(line)[1:] for line in lines if "test accuracy: logreg" in line]
    assert len(values) == len(accuracies) == len(heads) > 1
    assert [v for page in values for v in page] == ["104", "103", "102", "101", "100"]
    assert [a for page in accuracies for a in page] == [
        "0.9400",
        "0.9300",
        "0.9200",
        "0.9100",
        "0.9000",
    ]


@pytest.mark.parametrize("columns", [200, 80])
def test_compare_runs_keeps_names_and_values_whole_where_the_console_has_room(
    tmp_path, monkeypatch, columns
):
    """A sweep's members are named after their settings; a log is 200 columns wide. Every
    cell folded at 12 characters however wide the console: "autoencoder." over
    "bottleneck=8", a data path over two lines. Now the room left over widens the cells; on 80
    columns they fold as before, and the table still fits."""
    from aefx.tracking import client

    write_params(tmp_path, TINY_PARAMS)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    store = client(uri)
    experiment = store.create_experiment("aefx")
    made = [
        ("spotted-curassow", "data/raw/breast-cancer.csv"),
        ("autoencoder.bottleneck=4", "data/raw/wine.csv"),
        ("autoencoder.bottleneck=8", "data/raw/wine.csv"),
    ]
    for n, (name, path) in enumerate(made):
        run = store.create_run(
            experiment, tags={"aefx.kind": "pipeline"}, start_time=1000 + n, run_name=name
        )
        store.log_param(run.info.run_id, "data.path", path)
        store.set_terminated(run.info.run_id)

    monkeypatch.setenv("COLUMNS", str(columns))
    done = aefx("compare-runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    cells = re.compile(r"│\s*([^│]*?)\s*(?=│)")
    rows = {found[0]: found[1:] for line in lines if (found := cells.findall(line))}
    whole = columns == 200
    newest_first = made[::-1]
    assert (rows["name"] == [name for name, _ in newest_first]) == whole
    assert (rows["data.path"] == [path for _, path in newest_first]) == whole


def test_compare_runs_reads_as_many_runs_as_asked_page_by_page(tmp_path, monkeypatch):
    """`-n` past the store's page limit (50,000) was MLflow's `Invalid value ... for parameter
    'max_results'` traceback; the runs are now read a page at a time, up to N."""
    import mlflow.store.tracking

    from aefx.runs import recent_runs
    from aefx.tracking import client

    write_params(tmp_path, TINY_PARAMS)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    store = client(uri)
    experiment = store.create_experiment("aefx")
    for n in range(3):
        run = store.create_run(experiment, tags={"aefx.kind": "pipeline"}, start_time=1000 + n)
        store.log_param(run.info.run_id, "seed", str(n))
        store.set_terminated(run.info.run_id)
    store.create_run(experiment, tags={"aefx.kind": "classifier"})

    done = aefx("compare-runs", "-n", str(10**20), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.search(r"seed\s*│\s*2\s*│\s*1\s*│\s*0\s", done.stdout)

    monkeypatch.setattr(mlflow.store.tracking, "SEARCH_MAX_RESULTS_THRESHOLD", 2)
    newest = [r.data.params["seed"] for r in recent_runs(uri, "aefx", 10**20)]
    assert newest == ["2", "1", "0"]
    assert [r.data.params["seed"] for r in recent_runs(uri, "aefx", 2)] == ["2", "1"]
