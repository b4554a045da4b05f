"""compare_classifiers: every classifier on every feature set for every seed, with intervals
and paired verdicts (encoded vs raw, encoded vs PCA)."""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aefx.config import ClassifiersConfig, EvaluationConfig
from aefx.errors import AefxError
from aefx.io import atomic_path, encoded_file, read_json, write_json, write_text
from aefx.report import (
    basis_metric,
    best_pair,
    comparison_markdown,
    plot_comparison,
    plot_confusion,
)
from aefx.stats import paired_difference, t_interval, verdict

log = logging.getLogger(__name__)

METRICS = ("accuracy", "f1_macro", "roc_auc")
# Each learned feature set is compared, seed by seed, with these baselines.
CONTRASTS = (("encoded", "raw"), ("encoded", "pca"), ("raw_encoded", "raw"))


@dataclass(frozen=True)
class CompareResult:
    records: list[dict[str, Any]]
    differences: list[dict[str, Any]]
    markdown: str


# Classifiers that only make sense on the raw images, never on codes or PCA components.
RAW_ONLY = ("cnn",)


def make_classifier(
    name: str, cfg: ClassifiersConfig, seed: int, image_shape: tuple[int, ...] | None = None
) -> Any:
    """A fresh estimator with the settings from params.yaml; tuned over its grid if asked."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    settings = getattr(cfg, name)
    kwargs = settings.settings()
    if name == "cnn":
        from aefx.cnn import CnnClassifier

        assert image_shape is not None  # Params refuses cnn without image data
        kwargs = {**kwargs, "filters": tuple(kwargs["filters"])}
        return _tuned(
            CnnClassifier(tuple(image_shape), random_state=seed, **kwargs), cfg, settings, seed
        )
    builders = {
        "logreg": lambda: LogisticRegression(**kwargs),
        "svm_rbf": lambda: SVC(kernel="rbf", **kwargs),
        "random_forest": lambda: RandomForestClassifier(random_state=seed, n_jobs=1, **kwargs),
        "gboost": lambda: HistGradientBoostingClassifier(random_state=seed, **kwargs),
        "knn": lambda: KNeighborsClassifier(**kwargs),
        "mlp": lambda: MLPClassifier(
            random_state=seed,
            **{**kwargs, "hidden_layer_sizes": tuple(kwargs["hidden_layer_sizes"])},
        ),
    }
    return _tuned(builders[name](), cfg, settings, seed)


def _tuned(model: Any, cfg: ClassifiersConfig, settings: Any, seed: int) -> Any:
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    if cfg.tune and settings.grid:
        # Tuning sees only the rows it is given: the training split (or a CV fold of it).
        folds = StratifiedKFold(cfg.tune_folds, shuffle=True, random_state=seed)
        model = GridSearchCV(model, settings.grid, cv=folds, scoring="accuracy")
    return model


def score(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Accuracy, macro F1 and ROC AUC (binary, or one-vs-rest where probabilities exist)."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = model.predict(X)
    result: dict[str, float | None] = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
        "roc_auc": None,
    }
    classes = getattr(model, "classes_", np.unique(y))
    if len(np.unique(y)) < 2:
        return result
    if len(classes) == 2:
        if hasattr(model, "decision_function"):
            ranking = model.decision_function(X)
        else:
            ranking = model.predict_proba(X)[:, 1]
        result["roc_auc"] = float(roc_auc_score(y, ranking))
    elif hasattr(model, "predict_proba") and set(np.unique(y)) == set(classes):
        result["roc_auc"] = float(
            roc_auc_score(y, model.predict_proba(X), multi_class="ovr", labels=classes)
        )
    return result


def _xy(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    return frame.drop(columns=[label]).to_numpy(), frame[label].to_numpy()


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
def _read_xy(path: Path, label: str, stamp: int) -> tuple[np.ndarray, np.ndarray]:
    # Cached per process (keyed by mtime), so the cells of one worker read each file once.
    X, y = _xy(pd.read_parquet(path), label)
    X.flags.writeable = False
    return X, y


def _load(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    return _read_xy(Path(path), label, Path(path).stat().st_mtime_ns)


def feature_set(
    name: str, label: str, inputs: CompareInputs, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) matrices of one feature set for one seed. PCA has the code's width."""
    from sklearn.decomposition import PCA

    X_train, _ = _load(inputs.train_scaled, label)
    X_test, _ = _load(inputs.test_scaled, label)
    if name == "raw":
        return X_train, X_test
    Z_train, _ = _load(encoded_file(inputs.encoded, "train", seed), label)
    Z_test, _ = _load(encoded_file(inputs.encoded, "test", seed), label)
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


class _SharedBlasCap:
    """One BLAS thread while any cell runs, the process's own count again when none does.

    OpenMP's thread count is per thread, but OpenBLAS's is one per process. Each cell taking
    ``threadpool_limits(1)`` for itself raced: the first of two cells to end restored the
    machine's count while the other was still fitting, so its float sums depended on which cell
    ran beside it (measured: an MLP's ROC AUC moved by 2e-5). Here the first holder takes the
    cap and the last one out gives it back. The mappers take it in the thread that hands out
    the cells, before any cell starts: with the OpenBLAS builds pinned here (0.3.30, 0.3.31), a
    count set from another thread is ignored once the main thread has set one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter: Any = None

    @contextmanager
    def held(self) -> Iterator[None]:
        # scikit-learn loads SciPy's OpenBLAS and OpenMP on import; a library loaded after
        # the cap is taken would keep its own count, so load them first.
        import sklearn.neural_network  # noqa: F401
        from threadpoolctl import threadpool_limits

        with self._lock:
            if self._holders == 0:
                self._limiter = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


one_blas_thread = _SharedBlasCap().held


@contextmanager
def one_thread_each() -> Iterator[None]:
    """One BLAS and one OpenMP thread for the calling thread's work, however many cells run."""
    from threadpoolctl import threadpool_limits

    with one_blas_thread(), threadpool_limits(limits=1, user_api="openmp"):
        yield


def check_training_split(
    y_train: np.ndarray,
    classifier: str,
    cfg: ClassifiersConfig,
    evaluation: EvaluationConfig,
    origin: str | Path,
) -> None:
    """A training split too small for the settings asked for (folds, k-NN's neighbours) is the
    user's to fix: one line naming the setting, not scikit-learn's error from inside a fit."""
    labels, counts = np.unique(y_train, return_counts=True)
    rarest, fit_rows = labels[counts.argmin()], len(y_train)
    rarest_rows = int(counts.min())
    # Tuning's folds split each evaluation fold's training part again (nested).
    for setting, k, applies in (
        ("evaluation.folds", evaluation.folds, evaluation.mode == "cv"),
        ("classifiers.tune_folds", cfg.tune_folds, cfg.tune),
    ):
        if not applies:
            continue
        if rarest_rows < k:
            raise AefxError(
                f"{origin}: class {rarest} has {rarest_rows} row(s) to split into {setting}={k} "
                "folds; lower it, or give the training split more rows"
            )
        fit_rows -= -(-fit_rows // k)  # what the smallest fold leaves to fit on
        rarest_rows -= -(-rarest_rows // k)
    if classifier == "knn" and cfg.knn.n_neighbors > fit_rows:
        raise AefxError(
            f"{origin}: k-NN fits on {fit_rows} training rows, fewer than "
            f"classifiers.knn.n_neighbors={cfg.knn.n_neighbors}; lower it, or give the "
            "training split more rows"
        )


def check_every_classifier(
    y_train: np.ndarray, cfg: ClassifiersConfig, evaluation: EvaluationConfig, origin: str | Path
) -> None:
    """Every classifier's :func:`check_training_split` at once, before any autoencoder trains, so
    that a setting too large for the data fails in seconds, not after the training it would have
    wasted: `aefx run` asks before Prefect starts, the flow again after scale (a scheduled run
    has no such check before it); each cell still checks for itself (``dvc repro``)."""
    for classifier in cfg.use:
        check_training_split(y_train, classifier, cfg, evaluation, origin)


def read_labels(path: Path, label: str) -> np.ndarray:
    """The label column alone: the features are not held in memory while autoencoders train."""
    return pd.read_parquet(path, columns=[label])[label].to_numpy()


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
    threads took 1.43x the serial time; with it 0.70x)."""
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
    rows = [
        {"seed": cell.seed, "classifier": cell.classifier, "features": cell.features, **r}
        for r in scored
    ]
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
    template = make_classifier(name, cfg, seed, image_shape)
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


def _interval_fields(prefix: str, values: pd.Series, confidence: float) -> dict[str, Any]:
    values = values.dropna()
    if values.empty:
        return {
            prefix: None,
            f"{prefix}_std": None,
            f"{prefix}_ci_low": None,
            f"{prefix}_ci_high": None,
        }
    iv = t_interval(values.tolist(), confidence)
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
        record: dict[str, Any] = {"classifier": clf, "features": feats}
        test = group[group["split"] == "test"]
        for metric in METRICS:
            record.update(_interval_fields(metric, test[metric], evaluation.confidence))
        if evaluation.mode == "cv":
            cv = group[group["split"] != "test"]
            for metric in METRICS:
                record.update(_interval_fields(f"cv_{metric}", cv[metric], evaluation.confidence))
        record["n_seeds"] = int(test["seed"].nunique())
        records.append(record)
    return records


def differences(rows: pd.DataFrame, evaluation: EvaluationConfig) -> list[dict[str, Any]]:
    """Paired (same seed, same fold) differences of accuracy and macro F1, with a verdict."""
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
                diff = paired_difference(
                    table[learned].tolist(), table[baseline].tolist(), evaluation.confidence
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
    order = {cell: i for i, cell in enumerate(cells(cfg, seeds))}
    results = sorted(results, key=lambda r: order[r.cell])  # same files whatever ran first
    for seed in seeds:
        for name in cfg.use:
            fitted = [
                r.cell.features for r in results if (r.cell.seed, r.cell.classifier) == (seed, name)
            ]
            log.info("compare_classifiers: seed %d %s fitted on %s", seed, name, ", ".join(fitted))
    frame = pd.DataFrame([row for r in results for row in r.rows])
    predictions: dict[tuple[str, str], list[np.ndarray]] = {}
    for r in results:
        predictions.setdefault((r.cell.classifier, r.cell.features), []).append(r.predictions)
    _, y_test = _load(inputs.test_scaled, label)
    records = summarise(frame, evaluation)
    diffs = differences(frame, evaluation)
    markdown = comparison_markdown(records, diffs, evaluation)

    write_json(outputs["comparison"], records)
    write_json(outputs["differences"], diffs)
    with atomic_path(outputs["comparison_rows"]) as tmp:
        frame.to_csv(tmp, index=False)
    write_json(outputs["scores"], metrics_tree(records, diffs, cfg.use))
    write_text(outputs["comparison_table"], markdown)
    plot_comparison(records, outputs["comparison_plot"])
    key = best_pair(records)
    plot_confusion(
        np.tile(y_test, len(seeds)),
        np.concatenate(predictions[key]),
        key,
        outputs["confusion_plot"],
        chosen_by=basis_metric(records),
    )
    return CompareResult(records, diffs, markdown)
