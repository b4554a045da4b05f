"""The comparison for people: Markdown and terminal tables, a bar chart, a confusion matrix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

FEATURE_ORDER = ("raw", "pca", "encoded", "raw_encoded")
LABELS = {"raw_encoded": "raw+encoded"}


def basis_metric(records: list[dict[str, Any]], metric: str = "accuracy") -> str:
    """What the verdicts rest on: ``metric`` (evaluation.metric) in CV on the training split in
    cv mode, else on the test split."""
    cv = f"cv_{metric}"
    return cv if records and records[0].get(cv) is not None else metric


def best_pair(records: list[dict[str, Any]], metric: str = "accuracy") -> tuple[str, str]:
    """The (classifier, feature set) with the highest mean basis metric: in cv mode the pair
    whose test confusion matrix is shown is chosen on the training split, not the test split."""
    metric = basis_metric(records, metric)
    best = max(records, key=lambda r: r[metric])
    return best["classifier"], best["features"]


def _grid(records: list[dict[str, Any]]) -> tuple[list[str], list[str], dict]:
    classifiers = list(dict.fromkeys(r["classifier"] for r in records))
    present = {r["features"] for r in records}
    features = [f for f in FEATURE_ORDER if f in present]
    features += sorted(present - set(features))
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
    """``mean ± half-width of the confidence interval`` (``± ?`` for a single seed)."""
    low, high = record.get(f"{metric}_ci_low"), record.get(f"{metric}_ci_high")
    if low is None or high is None:
        return f"{record[metric]:.4f} ± ?"
    return f"{record[metric]:.4f} ± {(high - low) / 2:.4f}"


def _ci_text(diff: dict[str, Any]) -> str:
    if diff["ci_low"] is None:
        return "n/a"
    return f"[{diff['ci_low']:+.4f}, {diff['ci_high']:+.4f}]"


# With one seed a paired difference has no interval (nothing measures how much it would move
# with another seed), so its verdict can only be "no clear difference": say so where it shows.
ONE_SEED_NOTE = (
    "one seed gives no interval, so no verdict can be called: set two or more seeds (the "
    "default is 5)"
)


def one_seed_note(differences: list[dict[str, Any]]) -> str | None:
    """The note for verdicts made without an interval, if there are any."""
    return ONE_SEED_NOTE if any(d["ci_low"] is None for d in differences) else None


def _basis_text(metric: str) -> str:
    """cv_accuracy -> accuracy on k-fold CV on the training split"""
    where = "k-fold CV on the training split" if metric.startswith("cv_") else "the test split"
    return f"{metric.removeprefix('cv_')} on {where}"


def _caption(records: list[dict[str, Any]], metric: str, confidence: float) -> str:
    n_seeds = max(r["n_seeds"] for r in records)
    over = (
        f"over {n_seeds} seed(s) x folds, corrected for the folds' shared training rows"
        if metric.startswith("cv_")
        else f"over {n_seeds} seed(s)"
    )
    return f"{_basis_text(metric)}: mean ± half-width of the {confidence:.0%} t interval {over}"


def _table_rows(records, metric) -> tuple[list[str], list[tuple[str, list[tuple[str, bool]]]]]:
    classifiers, features, cells = _grid(records)
    best = winners(records, metric)
    rows = []
    for clf in classifiers:
        cells_out = []
        for f in features:
            text = cell_text(cells[(clf, f)], metric) if (clf, f) in cells else "n/a"
            cells_out.append((text, f in best[clf]))
        rows.append((clf, cells_out))
    widths = _widths(records)
    return [_label(f, widths.get(f)) for f in features], rows


def _label(features: str, width: int | None) -> str:
    """A feature set's column heading: ``pca (100)``."""
    name = LABELS.get(features, features)
    return name if width is None else f"{name} ({width})"


def _widths(records: list[dict[str, Any]]) -> dict[str, int]:
    """Each feature set's number of columns, where all its records agree on one."""
    seen: dict[str, set[int]] = {}
    for r in records:
        if r.get("width") is not None:
            seen.setdefault(r["features"], set()).add(r["width"])
    return {f: next(iter(w)) for f, w in seen.items() if len(w) == 1}


def pca_note(records: list[dict[str, Any]]) -> str | None:
    """Where PCA kept every dimension of the raw features (a code at least as wide as the
    input, as the default's 150 for 100 features), say that it is no reduction."""
    widths = _widths(records)
    if "pca" not in widths or widths["pca"] != widths.get("raw"):
        return None
    return (
        f"PCA keeps all {widths['pca']} dimensions of raw, as the code is at least as wide: "
        "it is raw rotated and centred, not a reduction"
    )


def comparison_markdown(
    records: list[dict[str, Any]], differences: list[dict[str, Any]], evaluation: Any
) -> str:
    metric = basis_metric(records, evaluation.metric)
    lines = ["# Classifier comparison", ""]
    tables = list(dict.fromkeys([metric, evaluation.metric, "accuracy"]))  # the basis first
    for m in tables:
        header, rows = _table_rows(records, m)
        lines += [
            f"**{_caption(records, m, evaluation.confidence)}**; bold: best per row.",
            "",
            "| classifier | " + " | ".join(header) + " |",
            "|---|" + "---|" * len(header),
        ]
        for clf, cells in rows:
            shown = [f"**{t}**" if win else t for t, win in cells]
            lines.append(f"| {clf} | " + " | ".join(shown) + " |")
        lines.append("")
    if note := pca_note(records):  # once, under the tables (one per metric), not under each
        lines += [f"{note}.", ""]
    lines += [
        "## Paired differences",
        "",
        (
            "Same seed and fold; interval over seeds and folds, widened for the rows that the"
            " folds' training sets share (Nadeau and Bengio's corrected resampled t)."
            if metric.startswith("cv_")
            else "Same seed and test rows; the interval counts both the seeds and the draw of"
            " test rows (a paired bootstrap), so a difference of a row or two is not called."
        ),
        "",
        *([f"**CI n/a: {note}.**", ""] if (note := one_seed_note(differences)) else []),
        "| classifier | contrast | metric | mean | CI | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for d in differences:
        ci = _ci_text(d)
        contrast = d["contrast"].replace("raw_encoded", "raw+encoded")
        lines.append(
            f"| {d['classifier']} | {contrast} | {d['metric']} | {d['mean']:+.4f} | "
            f"{ci} | {d['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def comparison_table(
    records: list[dict[str, Any]], confidence: float = 0.95, metric: str = "accuracy"
) -> Any:
    """A rich Table of the verdict metric with the winner of each row marked."""
    from rich.table import Table

    metric = basis_metric(records, metric)
    header, rows = _table_rows(records, metric)
    title = _caption(records, metric, confidence) + "; ★ best per row"
    table = Table(title=title, caption=pca_note(records))
    table.add_column("classifier")
    for f in header:
        table.add_column(f, justify="right")
    for clf, cells in rows:
        table.add_row(clf, *[f"[bold green]★ {t}[/]" if win else t for t, win in cells])
    return table


def verdict_table(differences: list[dict[str, Any]], metric: str = "accuracy") -> Any:
    from rich.table import Table

    over = "seeds and folds" if any(d["basis"] == "cv" for d in differences) else "seeds, test rows"
    table = Table(
        title=f"Is the learned feature set better? (paired {metric}, chance over {over})",
        caption=f"CI n/a: {note}" if (note := one_seed_note(differences)) else None,
    )
    for name in ("classifier", "contrast", "mean", "CI", "verdict"):
        table.add_column(name, justify="right" if name in ("mean", "CI") else "left")
    colour = {"better": "green", "worse": "red"}
    for d in differences:
        if d["metric"] != metric:
            continue
        ci = _ci_text(d)
        style = colour.get(d["verdict"], "yellow")
        table.add_row(
            d["classifier"],
            d["contrast"].replace("raw_encoded", "raw+encoded"),
            f"{d['mean']:+.4f}",
            ci,
            f"[{style}]{d['verdict']}[/]",
        )
    return table


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display on servers or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Write a figure atomically, like every other output."""
    from aefx.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_comparison(
    records: list[dict[str, Any]], path: Path, metric: str = "accuracy"
) -> list[str]:
    """Grouped bars of the basis metric: one group per classifier, one bar per feature set
    (named with its width, as the tables head their columns), CI error bars. Returns the
    legend's entries as drawn."""
    import numpy as np

    plt = pyplot()
    metric = basis_metric(records, metric)
    classifiers, features, cells = _grid(records)
    widths = _widths(records)
    width = 0.8 / len(features)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(classifiers) + 2), 4.8), dpi=110)
    x = np.arange(len(classifiers))
    lowest = 1.0
    for i, f in enumerate(features):
        means, errs = [], []
        for clf in classifiers:
            r = cells.get((clf, f))  # absent: e.g. the CNN, which only sees raw images
            means.append(np.nan if r is None else r[metric])
            lo, hi = (
                (None, None)
                if r is None
                else (r.get(f"{metric}_ci_low"), r.get(f"{metric}_ci_high"))
            )
            errs.append(0.0 if lo is None else (hi - lo) / 2)
        lowest = min(lowest, float(np.nanmin(np.subtract(means, errs))))
        ax.bar(
            x + (i - (len(features) - 1) / 2) * width,
            means,
            width,
            yerr=errs,
            capsize=3,
            label=_label(f, widths.get(f)),
            color=f"C{i}",
        )
    ax.set_xticks(x, classifiers)
    ax.set_ylim(max(0.0, lowest - 0.03), 1.0)
    ax.set_xlabel("classifier")
    ax.set_ylabel(metric.replace("cv_", "CV ") + " (error bars: confidence interval)")
    shown = {"accuracy": "Accuracy", "f1_macro": "Macro F1"}.get(metric.removeprefix("cv_"), metric)
    ax.set_title(f"{shown} by classifier and feature set")
    ax.grid(True, axis="y", alpha=0.3)
    legend = ax.legend(
        title="features",
        fontsize=8,
        ncol=len(features),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        frameon=False,
    )
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return [text.get_text() for text in legend.get_texts()]


def plot_confusion(
    y_true: Any, y_pred: Any, pair: tuple[str, str], path: Path, chosen_by: str, classes: Any
) -> np.ndarray:
    """Confusion matrix of the best classifier x feature set (``best_pair``, by the basis
    metric ``chosen_by``), test predictions of all seeds: a row and a column for each of the
    ``classes``, those the test split lacks and nothing predicted too. Returns the counts
    drawn."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    shown = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=classes, ax=ax, colorbar=False
    )
    ax.set_title(
        f"{pair[0]} on {LABELS.get(pair[1], pair[1])} features\n"
        f"best by {_basis_text(chosen_by)}\ntest predictions of every seed",
        fontsize=10,
    )
    fig.tight_layout()
    save_png(fig, path)
    plt.close(fig)
    return shown.confusion_matrix
