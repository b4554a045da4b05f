"""log_run: record one pipeline execution in MLflow from the files the stages wrote."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from aefx.config import LOGGED_SCORES, LOGGED_SUFFIXES, Params, params_to_flat_dict
from aefx.io import file_md5, read_json, seed_file, table_stem, write_json
from aefx.tracking import (
    client,
    experiment_id,
    git_tags,
    log_dataset,
    project_root,
    start_run,
    tracking_uri,
    using_store,
)

log = logging.getLogger(__name__)
# What the logged model needs besides MLflow; aefx itself travels inside it (code_paths).
PIP_REQUIREMENTS = ["keras>=3.15", "tensorflow>=2.21", "scikit-learn>=1.9", "pandas", "pydantic"]


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    experiment_id: str
    tracking_uri: str
    model_version: str | None = None  # models:/NAME/VERSION, None when not registered


def split_digests(params: Params) -> dict[str, str]:
    """The DVC (MD5) hash of each split's file, by split."""
    return {"train": file_md5(params.paths.train), "test": file_md5(params.paths.test)}


def data_version(digests: dict[str, str]) -> str:
    """One hash for the ingested data: the hashes of both splits, combined."""
    return hashlib.md5(f"{digests['train']}:{digests['test']}".encode()).hexdigest()


def dvc_experiment_tags(entry_point: str) -> dict[str, str]:
    """Which `dvc exp run` experiment this run is, if it is one. DVC names the experiment and
    its baseline commit in the environment of the stages it runs, so the MLflow run can be
    found from its row in `dvc exp show`, and the other way round."""
    name = os.environ.get("DVC_EXP_NAME")
    if not name or entry_point != "dvc repro":
        return {}
    return {
        "dvc.exp_name": name,
        "dvc.exp_baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", ""),
    }


def run_tags(params: Params, entry_point: str, digests: dict[str, str]) -> dict[str, str]:
    p = params.paths
    experiment = dvc_experiment_tags(entry_point)
    if experiment:  # the stages of `dvc exp run` are run as by `dvc repro`
        entry_point = "dvc exp run"
    return {
        **git_tags(project_root()),
        "data.version": data_version(digests),
        "data.source": params.data.source
        if params.data.file_path() is None
        else f"{params.data.source}:{params.data.file_path()}",
        "aefx.entry_point": entry_point,
        "aefx.kind": "pipeline",
        "aefx.outputs": str(p.workspace),
        **experiment,
    }


def _metrics(params: Params) -> list:
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now().timestamp() * 1000)
    metrics = []
    shipped = read_json(params.paths.encoder_meta)  # the shipped seed and its threshold
    best_seed = shipped["seed"]
    for seed in params.seeds:
        curve = pd.read_csv(seed_file(params.paths.learning_curves, seed, ".csv"))
        if seed == best_seed:  # the passes it trained: `epochs: auto` makes them the data's
            metrics.append(Metric("ae_epochs", int(curve["epoch"].iloc[-1]), now, 0))
        for row in curve.itertuples(index=False):
            for name in ("loss", "val_loss"):
                value = float(getattr(row, name))
                metrics.append(Metric(f"ae_{name}.seed{seed}", value, now, int(row.epoch)))
                if seed == best_seed:
                    metrics.append(Metric(f"ae_{name}", value, now, int(row.epoch)))
    # Test-split reconstruction and code statistics: ae_test_mse, ae_mean_code_activation, ...
    metrics.append(Metric("anomaly_threshold", shipped["anomaly"]["threshold"], now, 0))
    for name, value in read_json(params.paths.autoencoder_metrics).items():
        if name.endswith("_mean"):
            metrics.append(Metric(f"ae_{name.removesuffix('_mean')}", value, now, 0))
    for record in read_json(params.paths.comparison):
        key = f"{record['classifier']}.{record['features']}"
        for name in LOGGED_SCORES:
            field = name.removeprefix("test_")  # the record's key: accuracy, cv_accuracy
            for suffix in LOGGED_SUFFIXES:
                value = record.get(f"{field}{suffix}")
                if value is not None:
                    metrics.append(Metric(f"{name}{suffix}.{key}", value, now, 0))
    for diff in read_json(params.paths.differences):
        learned, baseline = (part.strip() for part in diff["contrast"].split("-"))
        name = f"diff_{diff['metric']}.{diff['classifier']}.{learned}_vs_{baseline}"
        metrics.append(Metric(name, diff["mean"], now, 0))
    return metrics


def _log_child_runs(params: Params, mlflow_client: Any, exp_id: str, run_id: str) -> None:
    """One nested run per classifier x feature set, with its per-seed scores as steps, so the
    MLflow compare view and ``mlflow.search_runs`` line them up."""
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now().timestamp() * 1000)
    rows = pd.read_csv(params.paths.comparison_rows)
    for record in read_json(params.paths.comparison):
        clf, feats = record["classifier"], record["features"]
        child = mlflow_client.create_run(
            exp_id,
            run_name=f"{clf} on {feats}",
            tags={
                "mlflow.parentRunId": run_id,
                "aefx.kind": "comparison",
                "aefx.classifier": clf,
                "aefx.features": feats,
            },
        )
        mine = rows[(rows["classifier"] == clf) & (rows["features"] == feats)]
        metrics = [
            Metric(k, v, now, 0)
            for k, v in record.items()
            if isinstance(v, float) and k != "n_seeds"
        ]
        for row in mine[mine["split"] == "test"].itertuples(index=False):
            for metric in ("accuracy", "f1_macro", "roc_auc"):
                value = getattr(row, metric)
                if pd.notna(value):
                    metrics.append(Metric(f"seed_{metric}", float(value), now, int(row.seed)))
        mlflow_client.log_batch(child.info.run_id, metrics=metrics)
        mlflow_client.set_terminated(child.info.run_id, "FINISHED")


def _log_datasets(
    params: Params, uri: str, run_id: str, train: pd.DataFrame, digests: dict[str, str]
) -> None:
    """The two splits as the run's datasets, each digest the MD5 that DVC records for the
    split's file in dvc.lock."""
    p = params.paths
    path = params.data.file_path()
    stem = params.data.source if path is None else table_stem(path)
    for split, path in (("train", p.train), ("test", p.test)):
        frame = train if split == "train" else pd.read_parquet(path)
        name = f"{stem}-{split}"
        log_dataset(uri, run_id, name, split, path, digests[split], frame, params.data.label)


def _log_encoder(params: Params, train: pd.DataFrame) -> str | None:
    """The shipped encoder and its scaler as one pyfunc model: raw rows in, codes out. Returns
    the version registered under ``tracking.registered_model`` (models:/NAME/VERSION), if any."""
    import mlflow
    from mlflow.models import infer_signature

    p = params.paths
    meta = read_json(p.encoder_meta)
    with warnings.catch_warnings():
        # MLflow asks for predict() type hints; the explicit signature below does that job.
        warnings.filterwarnings("ignore", message=".*type hint", category=UserWarning)
        import aefx
        from aefx import serving

        loaded = serving.EncoderModel.from_files(str(p.encoder), str(p.encoder_meta))
        sample = train[loaded.features].head(20)  # the model's inputs: no label, no ids
        logged = mlflow.pyfunc.log_model(
            name="encoder",
            # A model from code: loading runs our file instead of unpickling an object.
            python_model=str(Path(serving.__file__).with_name("encoder_model.py")),
            artifacts={
                "encoder": str(p.encoder),
                "meta": str(p.encoder_meta),
                "autoencoder": str(p.autoencoder),  # for `aefx score`
            },
            signature=_signature(infer_signature(sample, loaded.predict(None, sample))),
            input_example=sample.head(3),
            pip_requirements=PIP_REQUIREMENTS,
            # A copy of the aefx package, put on sys.path when the model loads: it loads where
            # aefx is not installed (aefx is on no package index for pip to fetch it from).
            code_paths=[str(Path(aefx.__file__).parent)],
            metadata={"code_size": meta["code_size"], "seed": meta["seed"]},
        )
    name = params.tracking.registered_model
    if name is None:
        return None
    with _mlflow_stream_off():
        # Registering prints its own lines ("Successfully registered model", "Created version
        # '4' of model"), unformatted among the stages' logs; log_run says it once instead.
        version = mlflow.register_model(logged.model_uri, name)
    return f"models:/{name}/{version.version}"


@contextlib.contextmanager
def _mlflow_stream_off() -> Iterator[None]:
    """MLflow's own printed lines (its ``eprint`` and its loggers' stream) held back."""
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    was = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = was


def _signature(inferred: Any) -> Any:
    """``inferred`` with every input column typed ``any``, its name still required. The model
    reads numbers of any dtype and categories as text or numbers, where MLflow's typed check
    refused much of that before the model saw it: an int64 column (whole numbers, as pandas
    reads them) for a feature typed double, anything but float32 for pixels typed float, a
    float or a gap for a feature typed long, and codes sent as numbers (``plan: 2``) for a
    column of categories typed string."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = [
        ColSpec(AnyType(), spec.name, required=spec.required) for spec in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=inferred.outputs)


def _promote(params: Params, uri: str) -> None:
    """Move ``tracking.promote_alias`` to the best registered version, if asked to."""
    t = params.tracking
    if not (t.registered_model and t.promote_alias):
        return
    from aefx.encode import chosen_on_test, data_identity, promote

    metric = params.promote_metric
    version, value = promote(
        uri,
        t.registered_model,
        metric,
        t.promote_alias,
        data=data_identity(params_to_flat_dict(params)),
        whose="this run's",
    )
    if warning := chosen_on_test(metric):
        log.warning("log_run: %s", warning)
    log.info(
        "log_run: models:/%s@%s -> version %s (%s = %.4f)",
        t.registered_model,
        t.promote_alias,
        version,
        metric,
        value,
    )


def log_run(params: Params, run_id: str | None = None, entry_point: str = "dvc repro") -> RunRecord:
    """Log params, learning curves, comparison metrics, plots and the encoder to one run.

    With ``run_id`` the run already exists and holds its params (the Prefect flow or a sweep
    opened it with ``start_run``); otherwise a new one is created with them. Either way the run
    ends FINISHED here, or FAILED if logging fails.
    """
    import mlflow
    from mlflow.entities import RunTag

    uri = tracking_uri(params.tracking.uri)
    mlflow_client = client(uri)
    exp_id = experiment_id(mlflow_client, params.tracking.experiment)
    digests = split_digests(params)
    tags = run_tags(params, entry_point, digests)
    if run_id is None:
        # A `dvc exp run`'s run bears the experiment's name, as `dvc exp show` lists it.
        name = tags.get("dvc.exp_name")
        flat = params_to_flat_dict(params)
        run_id = start_run(uri, params.tracking.experiment, tags, flat, name=name)
    else:
        mlflow_client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    p = params.paths
    with using_store(uri), mlflow.start_run(run_id=run_id):
        metrics = _metrics(params)
        for i in range(0, len(metrics), 1000):
            mlflow_client.log_batch(run_id, metrics=metrics[i : i + 1000])
        for path, folder in (
            (p.learning_curve_plot, "plots"),
            (p.reconstruction_plot, "plots"),
            (p.codes_plot, "plots"),
            (p.autoencoder_metrics, "training"),
            (p.comparison, "comparison"),
            (p.comparison_plot, "plots"),
            (p.confusion_plot, "plots"),
            (p.comparison_table, "comparison"),
            (p.comparison_rows, "comparison"),
            (p.differences, "comparison"),
            (p.scores, "comparison"),
            (p.train_metrics, "training"),
            (p.encoder_meta, "metadata"),
        ):
            mlflow_client.log_artifact(run_id, str(path), folder)
        train = pd.read_parquet(p.train)
        _log_datasets(params, uri, run_id, train, digests)
        version = _log_encoder(params, train)
        _promote(params, uri)
        _log_child_runs(params, mlflow_client, exp_id, run_id)
    record = RunRecord(run_id, exp_id, uri, version)
    write_json(p.run_record, asdict(record))
    log.info(
        "log_run: MLflow run %s in experiment %r%s",
        run_id,
        params.tracking.experiment,
        f", encoder registered as {version}" if version else "",
    )
    return record
