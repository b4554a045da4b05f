"""`aefx compare-runs`: the last pipeline runs side by side, from the MLflow store."""

from __future__ import annotations

import re
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
    rows = _rows(runs)
    return _table(rows, runs, f"Last {len(runs)} aefx run(s), newest first", _longest_key(rows))


def runs_tables(runs: list[Any], width: int) -> list[Any]:
    """:func:`runs_table` in pages of as many runs as fit ``width`` columns, each page with
    every row: rich crops a table wider than its console, so the runs past the edge were
    dropped without a word (an 80-column terminal showed three and a half of the default
    five)."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=width)
    unbounded = console.options.update(max_width=2**31)  # measured as wide as it would be
    rows = _rows(runs)
    # Keys keep up to 30 characters on one line when runs share the width, and fold beyond
    # (narrower still where a key and one run's cell, with the borders, would not fit).
    key_width = max(8, min(_longest_key(rows), 30, width - CELL_WIDTH - 7))

    def spare(a: int, b: int) -> int:
        table = _table(rows, runs[a:b], "", key_width, start=a)
        return width - Measurement.get(console, unbounded, table).maximum

    pages: list[tuple[int, int]] = []
    start = 0
    while start < len(runs):
        end = start + 1  # one run a page at least: its cells fold to the width
        while end < len(runs) and spare(start, end + 1) >= 0:
            end += 1
        pages.append((start, end))
        start = end
    title = f"Last {len(runs)} aefx run(s), newest first"
    # The width every page leaves over goes to the keys, up to the longest, then to the runs'
    # cells, up to their longest line: pages alike. (Names and paths folded at CELL_WIDTH in a
    # log 200 columns wide.)
    left = min(spare(a, b) for a, b in pages)
    keys = min(_longest_key(rows), key_width + max(0, left))
    left -= keys - key_width
    runs_a_page = max(b - a for a, b in pages)
    cells = max(CELL_WIDTH, min(_longest_cell(rows), CELL_WIDTH + max(0, left) // runs_a_page))
    return [
        _table(
            rows,
            runs[a:b],
            title if len(pages) == 1 else f"{title}: {_span(a, b)} of {len(runs)}",
            keys,
            start=a,
            cell_width=cells,
        )
        for a, b in pages
    ]


def _span(a: int, b: int) -> str:
    """Runs ``a`` to ``b`` (a slice's ends) counted from 1: "1-3", or "4" alone."""
    return f"{a + 1}" if b == a + 1 else f"{a + 1}-{b}"


def _longest_key(rows: list[tuple[str, list[str], str | None]]) -> int:
    return max(len(row[0]) for row in rows)


def _longest_cell(rows: list[tuple[str, list[str], str | None]]) -> int:
    return max(len(value) for _, values, _ in rows for value in values)


# The widest a run's cell grows before its text folds, unless the console has room to spare: a
# long value (a data path, a list) takes more lines, not the width of the runs beside it.
CELL_WIDTH = 12
NAME_ROW = "name"


def _broken_at_hyphens(name: str, width: int) -> str:
    """A run name (a flow's run bears its flow run's, "fervent-oxpecker") on lines of at most
    ``width`` characters, broken after its hyphens: rich breaks only at spaces, and folded it
    mid-word ("fervent-oxpe", "cker")."""
    lines: list[str] = []
    for part in re.split(r"(?<=-)", name):
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return "\n".join(lines)


def _rows(runs: list[Any]) -> list[tuple[str, list[str], str | None]]:
    """(label, one value per run, style): the fixed fields, the differing params, the
    passes trained where they differ, the metrics."""

    def started(run: Any) -> str:
        ms = run.info.start_time
        return "" if ms is None else datetime.fromtimestamp(ms / 1000).strftime("%m-%d %H:%M")

    rows: list[tuple[str, list[str], str | None]] = [
        ("started", [started(r) for r in runs], None),
        (NAME_ROW, [r.info.run_name or "" for r in runs], None),
        ("status", [r.info.status for r in runs], None),
        ("via", [r.data.tags.get("aefx.entry_point", "") for r in runs], None),
    ]
    experiments = [r.data.tags.get("dvc.exp_name", "") for r in runs]
    # The name `dvc exp show` lists the experiment under, where a run's own name is another
    # (a `dvc exp run`'s run is named after its experiment, so the row would repeat it).
    if any(e and e != r.info.run_name for e, r in zip(experiments, runs, strict=True)):
        rows.append(("dvc experiment", experiments, None))
    differing = differing_params(runs)
    rows += [(key, [r.data.params.get(key, "") for r in runs], "cyan") for key in differing]
    # Under epochs `auto` the param does not say how many passes ran (the table's size does):
    # the passes trained, the metric ae_epochs, show once they or the param differ.
    passes = [r.data.metrics.get("ae_epochs") for r in runs]
    if any(p is not None for p in passes) and (
        len(set(passes)) > 1 or "autoencoder.epochs" in differing
    ):
        rows.append(("epochs trained", ["" if p is None else f"{p:.0f}" for p in passes], None))
    rows += [
        (
            headline_label(name),
            [f"{r.data.metrics[name]:.4f}" if name in r.data.metrics else "" for r in runs],
            None,
        )
        for name in headline_metrics(runs)
    ]
    return rows


def _table(
    rows: list[tuple[str, list[str], str | None]],
    page: list[Any],
    title: str,
    key_width: int,
    start: int = 0,
    cell_width: int = CELL_WIDTH,
) -> Any:
    """The rows' table for the runs of ``page``, which start at run ``start`` of the rows', its
    keys in a column ``key_width`` wide, each run's cells at most ``cell_width``."""
    from rich.table import Table

    table = Table(title=title or None)
    table.add_column("", overflow="fold", width=key_width)
    for run in page:
        table.add_column(
            run.info.run_id[:8], justify="right", overflow="fold", min_width=8, max_width=cell_width
        )
    for label, values, style in rows:
        cells = values[start : start + len(page)]
        if label == NAME_ROW:
            cells = [_broken_at_hyphens(name, cell_width) for name in cells]
        table.add_row(label, *cells, style=style)
    return table
