"""`aefx compare-runs`: the last pipeline runs side by side, from the MLflow store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Training-split CV first (logged by runs in cv mode: a score to choose by), then the test
# split's (every run: for the report).
HEADLINES = ("cv_accuracy", "test_accuracy")
# With evaluation.metric f1_macro, macro F1 comes first, the same way.
F1_HEADLINES = ("cv_f1_macro", "test_f1_macro")


def recent_runs(uri: str, experiment: str, limit: int) -> list[Any]:
    """The newest ``limit`` pipeline runs (not their per-classifier child runs)."""
    from mlflow.store.tracking import SEARCH_MAX_RESULTS_THRESHOLD

    from aefx.errors import AefxError
    from aefx.tracking import all_pages, client, require_active

    mlflow_client = client(uri)
    found = mlflow_client.get_experiment_by_name(experiment)
    if found is None:
        raise AefxError(f"no MLflow experiment {experiment!r} in {uri}: run `aefx run` first")
    require_active(found, uri)
    return all_pages(
        mlflow_client.search_runs,
        [found.experiment_id],
        filter_string="tags.`aefx.kind` = 'pipeline'",
        order_by=["attributes.start_time DESC"],
        limit=limit,
        page_size=SEARCH_MAX_RESULTS_THRESHOLD,
    )


def differing_params(runs: list[Any]) -> list[str]:
    """Param keys whose values are not the same in every run that logged params (paths left
    out). A run without any (one that failed before params were logged at its start) has
    nothing to compare, so it does not make every key differ."""
    logged = [r for r in runs if r.data.params]
    keys = sorted({k for r in logged for k in r.data.params if not k.startswith("paths.")})
    return [k for k in keys if len({r.data.params.get(k) for r in logged}) > 1]


def headline_metrics(runs: list[Any]) -> list[str]:
    """For each of HEADLINES that any run logged: encoded-feature accuracy per classifier, then
    the other feature sets of logreg; macro F1 the same way first, if a run was judged by it."""
    logged = {m for r in runs for m in r.data.metrics}
    by_f1 = any(r.data.params.get("evaluation.metric") == "f1_macro" for r in runs)
    names: list[str] = []
    for split in (F1_HEADLINES if by_f1 else ()) + HEADLINES:
        names += sorted(m for m in logged if m.startswith(f"{split}.") and m.endswith(".encoded"))
        names += [m for m in (f"{split}.logreg.raw", f"{split}.logreg.pca") if m in logged]
    return names


def headline_label(name: str) -> str:
    """cv_accuracy.logreg.encoded -> cv accuracy: logreg on encoded"""
    split, rest = name.split(".", 1)
    return f"{split.replace('_', ' ')}: {rest.replace('.', ' on ')}"


def runs_table(runs: list[Any]) -> Any:
    """One column per run (newest first), one row per field, so it fits a terminal however
    many classifiers and differing params there are."""
    from rich.table import Table

    def started(run: Any) -> str:
        ms = run.info.start_time
        return "" if ms is None else datetime.fromtimestamp(ms / 1000).strftime("%m-%d %H:%M")

    # (label, one value per run, style): the fixed fields, the differing params, the metrics.
    rows: list[tuple[str, list[str], str | None]] = [
        ("started", [started(r) for r in runs], None),
        ("status", [r.info.status for r in runs], None),
        ("via", [r.data.tags.get("aefx.entry_point", "") for r in runs], None),
    ]
    experiments = [r.data.tags.get("dvc.exp_name", "") for r in runs]
    if any(experiments):  # the name `dvc exp show` lists the experiment under
        rows.append(("dvc experiment", experiments, None))
    rows += [
        (key, [r.data.params.get(key, "") for r in runs], "cyan") for key in differing_params(runs)
    ]
    rows += [
        (
            headline_label(name),
            [f"{r.data.metrics[name]:.4f}" if name in r.data.metrics else "" for r in runs],
            None,
        )
        for name in headline_metrics(runs)
    ]
    table = Table(title=f"Last {len(runs)} aefx run(s), newest first")
    # Keys keep up to 30 characters on one line; longer ones fold.
    table.add_column("", overflow="fold", min_width=min(30, max(len(row[0]) for row in rows)))
    for run in runs:
        # Long values (a data path, a list) fold inside their cell rather than push the other
        # runs off a narrow terminal.
        table.add_column(run.info.run_id[:8], justify="right", overflow="fold", min_width=8)
    for label, values, style in rows:
        table.add_row(label, *values, style=style)
    return table
