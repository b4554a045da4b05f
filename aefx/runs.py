"""`aefx compare-runs`: the last pipeline runs side by side, from the MLflow store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

HEADLINE = "test_accuracy"


def recent_runs(uri: str, experiment: str, limit: int) -> list[Any]:
    """The newest ``limit`` pipeline runs (not their per-classifier child runs)."""
    from aefx.errors import AefxError
    from aefx.tracking import client

    mlflow_client = client(uri)
    found = mlflow_client.get_experiment_by_name(experiment)
    if found is None:
        raise AefxError(f"no MLflow experiment {experiment!r} in {uri}: run `aefx run` first")
    return mlflow_client.search_runs(
        [found.experiment_id],
        filter_string="tags.`aefx.kind` = 'pipeline'",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
    )


def differing_params(runs: list[Any]) -> list[str]:
    """Param keys whose values are not the same in every run (paths left out)."""
    keys = sorted({k for r in runs for k in r.data.params if not k.startswith("paths.")})
    return [k for k in keys if len({r.data.params.get(k) for r in runs}) > 1]


def headline_metrics(runs: list[Any]) -> list[str]:
    """Encoded-feature test accuracy per classifier, then the other feature sets of logreg."""
    names = sorted(
        {
            m
            for r in runs
            for m in r.data.metrics
            if m.startswith(f"{HEADLINE}.") and m.endswith(".encoded")
        }
    )
    return names + [
        m
        for m in (f"{HEADLINE}.logreg.raw", f"{HEADLINE}.logreg.pca")
        if any(m in r.data.metrics for r in runs)
    ]


def runs_table(runs: list[Any]) -> Any:
    from rich.table import Table

    params = differing_params(runs)
    metrics = headline_metrics(runs)
    table = Table(title=f"Last {len(runs)} aefx run(s), newest first")
    table.add_column("run", no_wrap=True, min_width=8)
    for name in ("started", "status", "via", *params):
        table.add_column(name)
    for name in metrics:
        table.add_column(name.removeprefix(f"{HEADLINE}.").replace(".", " "), justify="right")
    for r in runs:
        started = r.info.start_time
        when = (
            ""
            if started is None
            else datetime.fromtimestamp(started / 1000).strftime("%Y-%m-%d %H:%M")
        )
        row = [r.info.run_id[:8], when, r.info.status, r.data.tags.get("aefx.entry_point", "")]
        row += [r.data.params.get(k, "") for k in params]
        row += [f"{r.data.metrics[m]:.4f}" if m in r.data.metrics else "" for m in metrics]
        table.add_row(*row)
    return table
