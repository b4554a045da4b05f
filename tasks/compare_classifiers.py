"""compare_classifiers: every classifier on every feature set for every seed, with intervals
and paired verdicts (encoded vs raw, encoded vs PCA)."""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.classifiers import (
    RAW_ONLY,
    check_training_split,
    make_classifier,
    read_labels,
    score,
)
from aefx.config import ClassifiersConfig, EvaluationConfig, unread_settings, unread_warning
from aefx.io import atomic_path, encoded_file, read_json, write_json, write_text
from aefx.report import (
    basis_metric,
    best_pair,
    comparison_markdown,
    plot_comparison,
    plot_confusion,
)
from aefx.stats import (
    cv_interval,
    paired_difference_on_rows,
    paired_difference_over_folds,
    t_interval,
    verdict,
)
from aefx.threads import one_blas_thread, one_thread_each

log = logging.getLogger(__name__)

METRICS = ("accuracy", "f1_macro", "roc_auc")
# Each learned feature set is compared, seed by seed, with these baselines.
CONTRASTS = (("encoded", "raw"), ("encoded", "pca"), ("raw_encoded", "raw"))


@dataclass(frozen=True)
class CompareResult:
    records: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    markdown: str


def _xy(
    frame: pd.DataFrame, label: str, carried: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """The features and the label; ``carried`` columns (ids) are neither."""
    return frame.drop(columns=[label, *carried]).to_numpy(), frame[label].to_numpy()


@dataclass(frozen=True)
class Cell:
    """One unit of the comparison: a classifier on one feature set for one seed."""

    seed: int
    classifier: str
    features: str

    @property
    def thread_safe(self) -> bool:
        # Keras classifiers seed TensorFlow's global state: never two at once in one process.
        return self.classifier not in RAW_ONLY


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    rows: list[dict[str, Any]]
    predictions: np.ndarray


@dataclass(frozen=True)
class CompareInputs:
    """The files a cell reads: the schema, the scaled splits and the encoded directory."""

    schema: Path
    train_scaled: Path
    test_scaled: Path
    encoded: Path


def cells(cfg: ClassifiersConfig, seeds: tuple[int, ...]) -> list[Cell]:
    """Every classifier x feature set x seed to fit (Keras classifiers on raw pixels only)."""
    return [
        Cell(seed, name, feats)
        for seed in seeds
        for name in cfg.use
        for feats in cfg.features
        if name not in RAW_ONLY or feats == "raw"
    ]


@functools.lru_cache(maxsize=8)
def _read_xy(
    path: Path, label: str, stamp: int, carried: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    # Cached per process (keyed by mtime), so the cells of one worker read each file once.
    X, y = _xy(pd.read_parquet(path), label, carried)
    X.flags.writeable = False
    return X, y


def _load(path: Path, label: str, carried: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    return _read_xy(Path(path), label, Path(path).stat().st_mtime_ns, carried)


def feature_set(
    name: str, label: str, inputs: CompareInputs, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) matrices of one feature set for one seed. PCA has the code's width."""
    from sklearn.decomposition import PCA

    X_train, _ = _load(inputs.train_scaled, label)
    X_test, _ = _load(inputs.test_scaled, label)
    if name == "raw":
        return X_train, X_test
    # The encoded splits carry the columns data.ignore kept out of training (ids).
    carried = tuple(read_json(inputs.schema).get("ignored", ()))
    Z_train, _ = _load(encoded_file(inputs.encoded, "train", seed), label, carried)
    Z_test, _ = _load(encoded_file(inputs.encoded, "test", seed), label, carried)
    if name == "encoded":
        return Z_train, Z_test
    if name == "pca":
        # PCA is fit on train only, like the scaler and the autoencoder.
        width = min(Z_train.shape[1], *X_train.shape)
        pca = PCA(n_components=width, random_state=seed).fit(X_train)
        return pca.transform(X_train), pca.transform(X_test)
    if name == "raw_encoded":
        return np.hstack([X_train, Z_train]), np.hstack([X_test, Z_test])
    raise ValueError(f"unknown feature set {name!r}")


def score_cell(
    cell: Cell,
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    label: str,
    inputs: CompareInputs,
) -> CellResult:
    """Fit and score one cell. Reads its inputs from files, so it can run in any process that
    sees them (a thread, a Prefect task, a Dask worker).

    The cell gets one BLAS/OpenMP thread (:func:`one_thread_each`): its scores then do not
    depend on how many cells run at once (thread counts change float sums: gradient boosting on
    PCA moved by 0.003), and cells side by side do not fight over cores (without the cap two
    threads took 1.43x the serial time; with it 0.70x). It computes subnormal floats as zero
    (:func:`aefx.threads.subnormals_flushed`): the MLP fits up to 5x faster, and the scores
    measured stayed the same bit for bit."""
    image_shape = read_json(inputs.schema)["image_shape"]
    _, y_train = _load(inputs.train_scaled, label)
    _, y_test = _load(inputs.test_scaled, label)
    check_training_split(y_train, cell.classifier, cfg, evaluation, inputs.train_scaled)
    with one_thread_each():
        F_train, F_test = feature_set(cell.features, label, inputs, cell.seed)
        scored, predicted = evaluate(
            cell.classifier,
            cfg,
            evaluation,
            cell.seed,
            (F_train, y_train, F_test, y_test),
            image_shape,
        )
    row = {"seed": cell.seed, "classifier": cell.classifier, "features": cell.features}
    rows = [{**row, "width": int(F_train.shape[1]), **r} for r in scored]
    return CellResult(cell, rows, predicted)


Mapper = Callable[[Callable[[Cell], CellResult], list[Cell]], list[CellResult]]


def thread_mapper(threads: int) -> Mapper:
    """Score cells on at most ``threads`` threads; Keras cells one by one on the caller's."""

    def run(score: Callable[[Cell], CellResult], todo: list[Cell]) -> list[CellResult]:
        from concurrent.futures import ThreadPoolExecutor

        shared = [c for c in todo if c.thread_safe]
        done: dict[Cell, CellResult] = {}
        with one_blas_thread():
            if threads > 1 and len(shared) > 1:
                with ThreadPoolExecutor(threads, thread_name_prefix="aefx-cell") as pool:
                    done.update(zip(shared, pool.map(score, shared), strict=True))
            for cell in todo:
                if cell not in done:
                    done[cell] = score(cell)
        return [done[c] for c in todo]

    return run


def evaluate(
    name: str,
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    seed: int,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    image_shape: tuple[int, ...] | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Score rows for one classifier on one feature set and seed, and its test predictions."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold

    X_train, y_train, X_test, y_test = data
    template = make_classifier(name, cfg, seed, image_shape, evaluation.metric)
    rows = []
    with warnings.catch_warnings():
        # A classifier that hits max_iter is scored as it stands; the warning is only noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if evaluation.mode == "cv":
            folds = StratifiedKFold(evaluation.folds, shuffle=True, random_state=seed)
            for k, (fit_idx, val_idx) in enumerate(folds.split(X_train, y_train)):
                model = clone(template).fit(X_train[fit_idx], y_train[fit_idx])
                rows.append({"split": f"cv{k}", **score(model, X_train[val_idx], y_train[val_idx])})
        model = clone(template).fit(X_train, y_train)
        rows.append({"split": "test", **score(model, X_test, y_test)})
    return rows, model.predict(X_test)


def _interval_fields(
    prefix: str, values: pd.Series, confidence: float, folds: int | None = None
) -> dict[str, Any]:
    """Mean, std and interval of one metric: over seeds, or over seeds x ``folds`` of CV."""
    values = values.dropna()
    if values.empty:
        return {
            prefix: None,
            f"{prefix}_std": None,
            f"{prefix}_ci_low": None,
            f"{prefix}_ci_high": None,
        }
    if folds is None:
        iv = t_interval(values.tolist(), confidence)
    else:
        iv = cv_interval(values.tolist(), folds, confidence)
    low, high = iv.finite_bounds()
    return {
        prefix: iv.mean,
        f"{prefix}_std": iv.std,
        f"{prefix}_ci_low": low,
        f"{prefix}_ci_high": high,
    }


def summarise(rows: pd.DataFrame, evaluation: EvaluationConfig) -> list[dict[str, Any]]:
    """Per classifier x feature set: test metrics over seeds (and CV metrics in cv mode)."""
    records = []
    for (clf, feats), group in rows.groupby(["classifier", "features"], sort=False):
        # Its width (columns): the tables say when a PCA as wide as raw is raw rotated.
        width = int(group["width"].iloc[0])
        record: dict[str, Any] = {"classifier": clf, "features": feats, "width": width}
        test = group[group["split"] == "test"]
        for metric in METRICS:
            record.update(_interval_fields(metric, test[metric], evaluation.confidence))
        if evaluation.mode == "cv":
            cv = group[group["split"] != "test"]
            for metric in METRICS:
                record.update(
                    _interval_fields(
                        f"cv_{metric}", cv[metric], evaluation.confidence, evaluation.folds
                    )
                )
        record["n_seeds"] = int(test["seed"].nunique())
        records.append(record)
    return records


def differences(
    rows: pd.DataFrame,
    evaluation: EvaluationConfig,
    predictions: dict[tuple[str, str], np.ndarray],
    y_test: np.ndarray,
) -> list[dict[str, Any]]:
    """Paired (same seed, same fold) differences of accuracy and macro F1, with a verdict.

    On the test split (holdout mode) the interval also counts the chance in which rows the test
    split holds, from ``predictions`` (classifier, features) -> seeds x test rows; in CV mode
    the folds' scores already vary with their rows, and the interval is corrected for their
    overlapping training sets."""
    basis = (
        rows[rows["split"] != "test"] if evaluation.mode == "cv" else rows[rows["split"] == "test"]
    )
    out = []
    for clf, group in basis.groupby("classifier", sort=False):
        wide = {
            m: group.pivot_table(index=["seed", "split"], columns="features", values=m)
            for m in ("accuracy", "f1_macro")
        }
        for learned, baseline in CONTRASTS:
            if learned not in wide["accuracy"] or baseline not in wide["accuracy"]:
                continue
            for metric, table in wide.items():
                if evaluation.mode == "cv":
                    diff = paired_difference_over_folds(
                        table[learned].tolist(),
                        table[baseline].tolist(),
                        evaluation.folds,
                        evaluation.confidence,
                    )
                else:
                    diff = paired_difference_on_rows(
                        y_test,
                        predictions[(clf, learned)],
                        predictions[(clf, baseline)],
                        metric,
                        evaluation.confidence,
                    )
                out.append(
                    {
                        "classifier": clf,
                        "contrast": f"{learned} - {baseline}",
                        "metric": metric,
                        "basis": "cv" if evaluation.mode == "cv" else "test",
                        "mean": diff.mean,
                        "std": diff.std,
                        "ci_low": diff.finite_bounds()[0],
                        "ci_high": diff.finite_bounds()[1],
                        "n": diff.n,
                        "verdict": verdict(diff),
                    }
                )
    return out


def metrics_tree(
    records: list[dict[str, Any]], diffs: list[dict[str, Any]], classifiers: tuple[str, ...]
) -> dict[str, Any]:
    """Nested numbers for `dvc metrics show/diff`: scores per feature set, then the mean paired
    differences (``encoded_vs_raw``...) of each classifier."""
    tree: dict[str, Any] = {}
    for clf in classifiers:
        tree[clf] = {
            r["features"]: {k: v for k, v in r.items() if k not in ("classifier", "features")}
            for r in records
            if r["classifier"] == clf
        }
        tree[clf]["difference"] = {
            d["contrast"].replace(" - ", "_vs_") + f".{d['metric']}": d["mean"]
            for d in diffs
            if d["classifier"] == clf
        }
    return tree


def compare_classifiers(
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    seeds: tuple[int, ...],
    label: str,
    inputs: CompareInputs,
    outputs: dict[str, Path],
    mapper: Mapper | None = None,
) -> CompareResult:
    """Fit and score every cell, then write records, per-seed rows, differences, report and
    plots. ``mapper`` runs the cells (default: one by one); the Prefect flow maps them as tasks
    instead and calls :func:`write_comparison` with the results."""
    todo = cells(cfg, seeds)
    score = functools.partial(
        score_cell, cfg=cfg, evaluation=evaluation, label=label, inputs=inputs
    )
    results = (mapper or thread_mapper(1))(score, todo)
    return write_comparison(results, cfg, evaluation, seeds, label, inputs, outputs)


def write_comparison(
    results: list[CellResult],
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    seeds: tuple[int, ...],
    label: str,
    inputs: CompareInputs,
    outputs: dict[str, Path],
) -> CompareResult:
    """Summaries and verdicts from the cells' scores. ``outputs`` maps comparison,
    comparison_rows, differences, scores, comparison_table, comparison_plot and confusion_plot
    to their paths."""
    if unread := unread_settings(cfg, evaluation):
        log.warning("compare_classifiers: %s", unread_warning("the comparison", unread))
    order = {cell: i for i, cell in enumerate(cells(cfg, seeds))}
    results = sorted(results, key=lambda r: order[r.cell])  # same files whatever ran first
    for name in cfg.use:  # one line a classifier: every seed fits the same feature sets
        mine = [r.cell for r in results if r.cell.classifier == name]
        log.info(
            "compare_classifiers: %s fitted on %s over %d seed(s)",
            name,
            ", ".join(dict.fromkeys(c.features for c in mine)),
            len({c.seed for c in mine}),
        )
    frame = pd.DataFrame([row for r in results for row in r.rows])
    by_pair: dict[tuple[str, str], list[np.ndarray]] = {}
    for r in results:  # in seed order
        by_pair.setdefault((r.cell.classifier, r.cell.features), []).append(r.predictions)
    predictions = {pair: np.stack(seeded) for pair, seeded in by_pair.items()}
    _, y_test = _load(inputs.test_scaled, label)
    y_train = read_labels(inputs.train_scaled, label)  # its classes, without the features
    records = summarise(frame, evaluation)
    diffs = differences(frame, evaluation, predictions, y_test)
    markdown = comparison_markdown(records, diffs, evaluation)

    write_json(outputs["comparison"], records)
    write_json(outputs["differences"], diffs)
    with atomic_path(outputs["comparison_rows"]) as tmp:
        frame.to_csv(tmp, index=False)
    write_json(outputs["scores"], metrics_tree(records, diffs, cfg.use))
    write_text(outputs["comparison_table"], markdown)
    plot_comparison(records, outputs["comparison_plot"], evaluation.metric)
    key = best_pair(records, evaluation.metric)
    plot_confusion(
        np.tile(y_test, len(seeds)),
        predictions[key].ravel(),
        key,
        outputs["confusion_plot"],
        chosen_by=basis_metric(records, evaluation.metric),
        classes=np.unique(np.concatenate([y_train, y_test])),
    )
    return CompareResult(records, diffs, markdown)
