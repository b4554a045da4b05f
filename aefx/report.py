"""The comparison table, as Markdown for files and as a rich table for the terminal."""

from __future__ import annotations

from typing import Any

FEATURE_ORDER = ("raw", "pca", "encoded")


def _grid(records: list[dict[str, Any]]) -> tuple[list[str], list[str], dict]:
    classifiers = list(dict.fromkeys(r["classifier"] for r in records))
    features = [f for f in FEATURE_ORDER if any(r["features"] == f for r in records)]
    features += [f for f in dict.fromkeys(r["features"] for r in records) if f not in features]
    cells = {(r["classifier"], r["features"]): r for r in records}
    return classifiers, features, cells


def winners(records: list[dict[str, Any]], metric: str = "accuracy") -> dict[str, set[str]]:
    """Per classifier, the feature set(s) with the highest mean ``metric``."""
    best: dict[str, set[str]] = {}
    classifiers, features, cells = _grid(records)
    for clf in classifiers:
        values = {f: cells[(clf, f)][metric] for f in features if (clf, f) in cells}
        top = max(values.values())
        best[clf] = {f for f, v in values.items() if abs(v - top) < 1e-12}
    return best


def cell_text(record: dict[str, Any], metric: str = "accuracy") -> str:
    return f"{record[metric]:.4f} ± {record[f'{metric}_std']:.4f}"


def comparison_markdown(records: list[dict[str, Any]], metric: str = "accuracy") -> str:
    classifiers, features, cells = _grid(records)
    best = winners(records, metric)
    n_seeds = max(r["n_seeds"] for r in records)
    lines = [
        f"# Test {metric} by classifier and feature set",
        "",
        f"Mean ± standard deviation over {n_seeds} seed(s); **bold** marks the best feature set "
        "of each row.",
        "",
        "| classifier | " + " | ".join(features) + " |",
        "|---|" + "---|" * len(features),
    ]
    for clf in classifiers:
        row = []
        for f in features:
            text = cell_text(cells[(clf, f)], metric) if (clf, f) in cells else "n/a"
            row.append(f"**{text}**" if f in best[clf] else text)
        lines.append(f"| {clf} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def comparison_table(records: list[dict[str, Any]], metric: str = "accuracy") -> Any:
    """A rich Table with the winner of each row in bold green."""
    from rich.table import Table

    classifiers, features, cells = _grid(records)
    best = winners(records, metric)
    n_seeds = max(r["n_seeds"] for r in records)
    table = Table(title=f"Test {metric} (mean ± std over {n_seeds} seed(s); ★ best per row)")
    table.add_column("classifier")
    for f in features:
        table.add_column(f, justify="right")
    for clf in classifiers:
        row = []
        for f in features:
            text = cell_text(cells[(clf, f)], metric) if (clf, f) in cells else "n/a"
            row.append(f"[bold green]★ {text}[/]" if f in best[clf] else text)
        table.add_row(clf, *row)
    return table
