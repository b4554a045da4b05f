"""Typed configuration: params.yaml plus ``--set`` overrides, parsed once at the edge."""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from aefx.errors import LARGEST_INT, AefxError, did_you_mean, first_few

DEFAULT_PARAMS = Path("params.yaml")
log = logging.getLogger(__name__)

# What NumPy, Keras and scikit-learn take as a random seed.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class _Frozen(BaseModel):
    # No setting takes inf or nan: YAML's .inf (or `--set x=inf`) ended in an OverflowError
    # sizing the layers, or trained to NaN weights, after the run had started.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _int64(cls, value: Any) -> Any:
        numbers = value if isinstance(value, tuple) else (value,)
        if any(type(n) is int and abs(n) > LARGEST_INT for n in numbers):
            raise ValueError(f"Input should be at most {LARGEST_INT} (NumPy's int64)")
        return value


def _one_message(field: str, message: str) -> Any:
    """A validator of ``field`` whose every refusal reads ``message``: pydantic gives a union
    one message per member, each led by its tag (``steps_per_execution.literal['auto']:
    Input should be 'auto'``)."""

    def check(cls: type, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(message) from None

    return field_validator(field, mode="wrap")(check)


class SyntheticConfig(_Frozen):
    """Arguments of ``make_classification``; the defaults are the reference task."""

    n_samples: int = Field(1000, ge=10)
    n_features: int = Field(100, ge=2)
    n_informative: int = Field(10, ge=1)
    n_redundant: int = Field(90, ge=0)
    n_classes: int = Field(2, ge=2)
    random_state: Seed = 1


IMAGE_SOURCES = ("digits", "mnist", "fashion_mnist", "images")
# The names aefx.models.code_columns gives the code columns of the encoded splits.
CODE_NAME = re.compile(r"z\d+")
DataSource = Literal["synthetic", "file", "digits", "mnist", "fashion_mnist", "images"]


class DataConfig(_Frozen):
    """Where rows come from and how they are split.

    Tables: ``synthetic`` (the reference task) or ``file`` (CSV/Parquet at ``path``).
    Images: ``digits`` (scikit-learn's embedded 8x8 digits), ``mnist``/``fashion_mnist`` (a local
    ``.npz`` in Keras' layout at ``path``), or ``images`` (a folder with one sub-folder per class,
    or train/ and test/ folders of such, or a ``.npz``/``.npy`` array at ``path``; a ``.npy``, or
    a folder of images a CSV names, takes its labels from ``labels_path``).
    """

    source: DataSource = "synthetic"
    path: Path | None = None
    # A table that comes split (train.csv and test.csv, a benchmark's fixed test set): the test
    # rows, with path's columns; their split is kept (test_size and stratify do not apply).
    test_path: Path | None = None
    labels_path: Path | None = None
    label: str = "label"
    # Columns of a table that are neither features nor the label (ids, names, timestamps): kept
    # out of training, and carried through `aefx encode`, `score` and `reconstruct` when present.
    ignore: tuple[str, ...] = ()
    # Columns of a table that hold categories (text or codes such as a colour or a region): each
    # becomes one 0/1 column per category seen in the training split, at the scale stage.
    categorical: tuple[str, ...] = ()
    # A category of fewer training rows than this joins the other rare ones in one category,
    # `(other)`, which new rows' categories the training rows did not have join too (1: none).
    min_category_rows: int = Field(1, ge=1)
    # true: a missing value in a column of categories is a category of its own, `(missing)`,
    # in training and new rows (not refused, nor filled by data.impute).
    missing_category: bool = False
    # Missing feature values: None refuses them; median or mean fills each numeric column with
    # that of its training-split values (a column of categories with its most frequent one,
    # unless data.missing_category makes a missing one a category).
    impute: Literal["median", "mean"] | None = None
    # Images: every image resized to [height, width] at ingest (bilinear; the aspect ratio is
    # not kept), and new images in `aefx encode`/`score`/`reconstruct` likewise. None: the
    # images must all be of one size.
    image_size: tuple[PositiveInt, PositiveInt] | None = None

    @field_validator("image_size", mode="before")
    @classmethod
    def _a_pair(cls, value: Any) -> Any:
        # Else one "Field required" per missing place (data.image_size.1), "Tuple should have
        # at most 2 items", or for one number "a list, such as [8]", which is one too few.
        if value is not None and (not isinstance(value, list | tuple) or len(value) != 2):
            raise ValueError("Input should be [height, width], two whole numbers 1 or more")
        return value

    synthetic: SyntheticConfig = SyntheticConfig()
    test_size: float = Field(0.33, gt=0, lt=1)
    split_seed: Seed = 1
    stratify: bool = False
    # Keep at most this many rows (a random, seeded subset; split files keep their ratio).
    max_rows: int | None = Field(None, ge=10)
    # Refuse a source whose loaded size would exceed this (estimated before reading it), and an
    # autoencoder whose training would (estimated from its weights before it is built).
    memory_budget_mb: float = Field(4096, gt=0)

    @model_validator(mode="after")
    def _file_needs_path(self) -> DataConfig:
        if self.source in ("file", "images") and self.path is None:
            raise ValueError(f"data.source is {self.source!r} but data.path is not set")
        if self.label in self.ignore:
            raise ValueError(f"data.ignore names the label column {self.label!r}")
        if len(set(self.ignore)) < len(self.ignore):
            raise ValueError("data.ignore names a column twice")
        if self.ignore and self.is_image:
            raise ValueError(f"data.ignore is for tables; data.source {self.source!r} has none")
        if codes := [c for c in self.ignore if CODE_NAME.fullmatch(c)]:
            raise ValueError(
                f"data.ignore names {codes[0]!r}, the name of a code column (z0, z00, ...) in "
                "the encoded splits that carry data.ignore's columns; rename that column"
            )
        if self.label in self.categorical:
            raise ValueError(
                f"data.categorical names the label column {self.label!r} (labels are classes "
                "already)"
            )
        if len(set(self.categorical)) < len(self.categorical):
            raise ValueError("data.categorical names a column twice")
        if both := [c for c in self.categorical if c in self.ignore]:
            raise ValueError(f"data.categorical and data.ignore both name {both[0]!r}")
        if self.image_size and not self.is_image:
            raise ValueError(
                f"data.image_size is for images; data.source {self.source!r} is a table"
            )
        if self.path is not None and self.source in ("synthetic", "digits"):
            # The file was never read: the run trained on the embedded data set instead.
            raise ValueError(
                f"data.path is set, but data.source {self.source!r} reads no file (it is "
                "embedded): set data.source to file for a table, images for images"
            )
        if self.test_path is not None and self.source != "file":
            raise ValueError(
                "data.test_path is for data.source file (a table whose test rows come in a "
                f"file of their own); data.source {self.source!r} has none"
            )
        if (
            self.test_path is not None
            and self.path is not None
            and overlap(self.test_path.resolve(), self.path.resolve())
        ):
            # The test rows were the training rows, and every score a score on training rows.
            raise ValueError(
                f"data.test_path ({self.test_path}) and data.path ({self.path}) overlap, so "
                "the test rows would be training rows: give the test rows a file of their own, "
                "or leave data.test_path out and data.test_size splits data.path"
            )
        if self.labels_path is not None and self.source != "images":
            raise ValueError(
                "data.labels_path is for data.source images (the labels of a .npy or of a folder "
                f"of images); data.source {self.source!r} has its labels already"
            )
        if self.impute and self.is_image:
            raise ValueError(f"data.impute is for tables; data.source {self.source!r} has none")
        if self.categorical and self.is_image:
            raise ValueError(
                f"data.categorical is for tables; data.source {self.source!r} has none"
            )
        for key, value in (
            ("min_category_rows", self.min_category_rows != 1),
            ("missing_category", self.missing_category),
        ):
            if value and not self.categorical:
                raise ValueError(
                    f"data.{key} is for the columns data.categorical names, and it names none"
                )
        return self

    @property
    def is_image(self) -> bool:
        return self.source in IMAGE_SOURCES

    def file_path(self) -> Path | None:
        """The file or folder read by ingest; mnist and fashion_mnist default under data/raw."""
        if self.path is None and self.source in ("mnist", "fashion_mnist"):
            return Path("data/raw") / f"{self.source}.npz"
        return self.path


class ScaleConfig(_Frozen):
    # auto: minmax for tables, none for images (ingest already maps pixels to [0, 1]).
    kind: Literal["auto", "minmax", "standard", "none"] = "auto"

    def kind_for(self, is_image: bool) -> str:
        if self.kind != "auto":
            return self.kind
        return "none" if is_image else "minmax"


AutoencoderKind = Literal["dense", "deep-bn", "conv", "denoising", "sparse", "variational"]


# epochs: auto trains AUTO_EPOCHS passes, or more where a pass is few steps: enough whole
# blocks for AUTO_STEPS steps. The reference task's 603 training rows at batch 64 make 10 steps a
# pass, so auto is its 50 epochs, the setting chosen by train-split CV; 107 rows make 2 steps,
# and 50 passes of them (100 steps) left the validation loss 7.5 times what 250 passes reach
# (scikit-learn's wine table, medians over five seeds: README, "Small tables").
AUTO_EPOCHS = 50
AUTO_STEPS = 500


def largest_divisor(n: int, at_most: int) -> int:
    """The largest whole number up to ``at_most`` that divides ``n``."""
    return max(d for d in range(1, min(at_most, n) + 1) if n % d == 0)


class AutoencoderConfig(_Frozen):
    """Which autoencoder, how big, how it is trained. ``None`` sizes follow the feature count.

    The defaults are the recipe chosen by train-split CV (params.yaml spells each one out);
    :meth:`reference` is the published recipe the benchmarks measure against."""

    # dense: plain ReLU stack. deep-bn: Dense + BatchNorm + LeakyReLU blocks (the reference).
    # conv: Conv2D + MaxPooling to a small spatial code, for images. denoising / sparse:
    # ``base`` trained on corrupted inputs / with an L1 penalty on the code. variational: a VAE.
    kind: AutoencoderKind = "denoising"
    # The architecture under denoising, sparse and variational; auto = conv for images
    # (deep-bn for a VAE), deep-bn for tables.
    base: Literal["auto", "dense", "deep-bn", "conv"] = "auto"
    hidden: tuple[int, ...] | None = None
    # Used when hidden is null: encoder widths = round(ratio x number of features) per layer.
    hidden_ratios: tuple[float, ...] = (6.0, 3.0)
    bottleneck: int | None = Field(None, ge=1)
    # Used when bottleneck is null: code width = round(ratio x number of features).
    bottleneck_ratio: float = Field(1.5, gt=0)
    # conv: filters of each Conv2D + MaxPooling block; the last is the code's channel count.
    conv_filters: tuple[int, ...] = (16, 8)
    # linear output + MSE, or sigmoid output + binary cross-entropy (inputs in [0, 1]);
    # auto: sigmoid for images, linear for tables.
    output: Literal["auto", "linear", "sigmoid"] = "auto"
    corruption: Literal["gaussian", "masking"] = "gaussian"  # denoising only
    corruption_level: float = Field(0.1, gt=0, lt=1)  # noise std, or the fraction zeroed
    sparsity: float = Field(1e-4, gt=0)  # sparse: L1 activity penalty on the (ReLU) code
    kl_weight: float = Field(1.0, gt=0)  # variational: weight of the KL term
    # Passes over the training rows, or auto (:meth:`for_steps`, AUTO_EPOCHS, AUTO_STEPS).
    epochs: Literal["auto"] | Annotated[int, Field(ge=1)] = "auto"
    batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    validation_fraction: float = Field(0.1, gt=0, lt=0.5)
    l2: float = Field(0.0, ge=0)  # L2 weight penalty on the dense and conv layers
    # deep-bn: the activation after each BatchNorm: leaky_relu (the reference), or the smooth
    # elu or gelu.
    activation: Literal["leaky_relu", "elu", "gelu"] = "leaky_relu"
    # deep-bn with leaky_relu: its slope below zero (Keras' default 0.3; 0 would be a ReLU).
    leaky_slope: float = Field(0.3, gt=0, lt=1)
    # Dropout rate after every hidden layer of the encoder and decoder (training only; not the
    # code or the output); 0: none.
    dropout: float = Field(0.0, ge=0, lt=1)
    # Stop when the validation loss has not improved for this many epochs and keep the best
    # weights (judged on the validation slice of the training split); null: train all epochs.
    early_stopping_patience: int | None = Field(None, ge=1)
    # Halve the learning rate after this many epochs without improvement; null: constant.
    reduce_lr_patience: int | None = Field(None, ge=1)
    # constant, or cosine: decay the rate to 1% of its start over the epochs.
    lr_schedule: Literal["constant", "cosine"] = "constant"
    # End training on an exponential moving average of the weights with this momentum (Keras'
    # use_ema; the average horizon is about 1 / (1 - momentum) steps); null: on the last step's
    # weights. Training itself is unchanged, so the curves show the last weights' losses.
    weight_ema: float | None = Field(None, gt=0, lt=1)
    # deep-bn: after training, set BatchNorm's moving statistics from one pass of the clean
    # training rows through the final weights ("precise BN"); the curves are from before it.
    recalibrate_bn: bool = False
    # Train in blocks of this many epochs (or of the largest divisor of epochs below it),
    # validating after each: one Keras "epoch" is a block (Keras' per-epoch overhead, not the
    # arithmetic, dominates small tables). The learning curve has one row per block.
    validation_every: int = Field(10, ge=1)
    # Training steps per compiled call: auto runs a whole block in one TensorFlow graph call
    # (the same arithmetic, far less Python per step), or a part of it where the block is more
    # arithmetic than a stop signal should wait for (aefx.autoencoders.steps_per_call_cap);
    # 1 = Keras' default. A number that does not divide a block's steps runs as its largest
    # divisor below it (train_autoencoder).
    steps_per_execution: Literal["auto"] | Annotated[int, Field(ge=1)] = "auto"
    _steps_per_execution = _one_message(
        "steps_per_execution", "Input should be 'auto' or a whole number 1 or more"
    )
    _epochs = _one_message("epochs", "Input should be 'auto' or a whole number 1 or more")

    @model_validator(mode="after")
    def _conv_filters(self) -> AutoencoderConfig:
        if not self.conv_filters or min(self.conv_filters) < 1:
            raise ValueError("autoencoder.conv_filters must be a non-empty list of positive sizes")
        if self.kind == "variational" and self.base == "conv":
            raise ValueError("autoencoder: the variational kind has a dense base (dense, deep-bn)")
        # params.yaml spells out the default slope, so only another value is a contradiction.
        if self.activation != "leaky_relu" and "leaky_slope" in changed_settings(self):
            raise ValueError("autoencoder.leaky_slope applies only to activation leaky_relu")
        return self

    @classmethod
    def reference(cls, **changes: Any) -> AutoencoderConfig:
        """The published recipe (benchmarks/plain_keras.py builds it by hand): deep-bn
        2n -> n -> n/2, 200 epochs at batch 16 with Adam at 1e-3, validated after every epoch;
        ``changes`` replace any of its settings."""
        recipe: dict[str, Any] = {
            "kind": "deep-bn",
            "hidden_ratios": (2.0, 1.0),
            "bottleneck_ratio": 0.5,
            "corruption_level": 0.2,
            "epochs": 200,
            "batch_size": 16,
            "learning_rate": 1e-3,
            "validation_every": 1,
        }
        return cls(**{**recipe, **changes})

    def architecture(self, is_image: bool) -> str:
        """The layer stack: dense, deep-bn or conv."""
        if self.kind in ("dense", "deep-bn", "conv"):
            return self.kind
        if self.base != "auto":
            return self.base
        return "conv" if is_image and self.kind != "variational" else "deep-bn"

    def output_for(self, is_image: bool) -> str:
        if self.output != "auto":
            return self.output
        return "sigmoid" if is_image else "linear"

    @model_validator(mode="after")
    def _positive_hidden(self) -> AutoencoderConfig:
        if self.hidden is not None and (not self.hidden or min(self.hidden) < 1):
            raise ValueError("autoencoder.hidden must be a non-empty list of positive sizes")
        if not self.hidden_ratios or min(self.hidden_ratios) <= 0:
            raise ValueError(
                "autoencoder.hidden_ratios must be a non-empty list of positive ratios"
            )
        if self.lr_schedule == "cosine" and self.reduce_lr_patience:
            raise ValueError(
                "autoencoder: lr_schedule 'cosine' and reduce_lr_patience exclude each other"
            )
        if self.weight_ema and self.early_stopping_patience:
            raise ValueError(
                "autoencoder: weight_ema and early_stopping_patience exclude each other (the "
                "restored best weights would replace the average)"
            )
        return self

    def for_steps(self, steps_per_pass: int) -> AutoencoderConfig:
        """These settings with the epochs a training of ``steps_per_pass`` steps a pass runs:
        a number stays; auto is AUTO_EPOCHS, or the fewest whole blocks of validation_every
        passes that make AUTO_STEPS steps where that is more."""
        if self.epochs != "auto":
            return self
        blocks = math.ceil(AUTO_STEPS / steps_per_pass / self.validation_every)
        return self.model_copy(update={"epochs": max(AUTO_EPOCHS, blocks * self.validation_every)})

    def block(self) -> int:
        """Epochs per validated block: validation_every, or the largest divisor of epochs
        below it (so every block is whole). The epochs must be a number (:meth:`for_steps`)."""
        if self.epochs == "auto":
            raise ValueError("epochs auto has no blocks until for_steps gives it a number")
        return largest_divisor(self.epochs, self.validation_every)

    def hidden_for(self, n_features: int) -> tuple[int, ...]:
        if self.hidden is not None:
            return self.hidden
        return tuple(max(1, round(r * n_features)) for r in self.hidden_ratios)

    def bottleneck_for(self, n_features: int) -> int:
        if self.bottleneck is not None:
            return self.bottleneck
        return max(1, round(self.bottleneck_ratio * n_features))


GridValue = float | int | str | None
Grid = dict[str, list[GridValue]]  # setting -> the values classifiers.tune tries


class _Classifier(_Frozen):
    # Values to try per setting when classifiers.tune is on (cross-validated on train only).
    grid: Grid = Field(default_factory=dict)

    @model_validator(mode="after")
    def _grid_names_settings(self) -> _Classifier:
        unknown = set(self.grid) - (set(type(self).model_fields) - {"grid"})
        if unknown:
            raise ValueError(f"grid names unknown setting(s): {', '.join(sorted(unknown))}")
        if any(not values for values in self.grid.values()):
            raise ValueError("every grid entry needs at least one value")
        self.search_grid()  # each value one its setting takes
        return self

    def settings(self) -> dict[str, GridValue]:
        return self.model_dump(exclude={"grid"})

    def search_grid(self) -> dict[str, list[Any]]:
        """The grid as scikit-learn's search takes it: each value as its setting reads it (YAML
        reads ``1e-3`` as text, which the setting reads as a number). A value the setting cannot
        take is refused: in the search it failed only its own fits, which scikit-learn scores as
        NaN and passes over, with a warning in the log."""
        grid: dict[str, list[Any]] = {}
        for key, values in self.grid.items():
            grid[key] = []
            for value in values:
                try:
                    read = type(self).model_validate({**self.settings(), key: value, "grid": {}})
                except ValidationError as exc:
                    reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(
                        f"grid.{key}: {value!r} is not a value {key} takes ({reason})"
                    ) from None
                grid[key].append(getattr(read, key))
        return grid


class LogRegConfig(_Classifier):
    grid: Grid = {"C": [0.1, 1.0, 10.0]}
    C: float = Field(1.0, gt=0)
    max_iter: int = Field(1000, ge=1)


class SvmConfig(_Classifier):
    grid: Grid = {"C": [0.3, 1.0, 3.0, 10.0]}
    C: float = Field(1.0, gt=0)
    gamma: Literal["scale", "auto"] | Annotated[float, Field(ge=0)] = "scale"
    _gamma = _one_message("gamma", "Input should be 'scale', 'auto' or a number 0 or more")


class ForestConfig(_Classifier):
    grid: Grid = {"min_samples_leaf": [1, 3]}
    n_estimators: int = Field(200, ge=1)
    max_depth: int | None = Field(None, ge=1)
    min_samples_leaf: int = Field(1, ge=1)


class GBoostConfig(_Classifier):
    grid: Grid = {"learning_rate": [0.05, 0.1]}
    max_iter: int = Field(100, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    max_leaf_nodes: int = Field(31, ge=2)


class KnnConfig(_Classifier):
    grid: Grid = {"n_neighbors": [5, 15, 31]}
    n_neighbors: int = Field(15, ge=1)
    weights: Literal["uniform", "distance"] = "distance"


class MlpConfig(_Classifier):
    grid: Grid = {"alpha": [1e-4, 1e-3, 1e-2]}
    hidden_layer_sizes: tuple[PositiveInt, ...] = (64,)
    alpha: float = Field(1e-3, ge=0)
    max_iter: int = Field(1000, ge=1)


class CnnConfig(_Classifier):
    """A small Keras CNN on the raw images (image data only; raw features only)."""

    filters: tuple[PositiveInt, ...] = (16, 32)
    dense: int = Field(64, ge=1)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)


ClassifierName = Literal["logreg", "svm_rbf", "random_forest", "gboost", "knn", "mlp", "cnn"]
FeatureSet = Literal["raw", "pca", "encoded", "raw_encoded"]
# The scores a run logs to MLflow per classifier and feature set (test_accuracy.logreg.encoded),
# each also with _std, _ci_low and _ci_high; test_roc_auc where the classifier ranks.
LOGGED_SCORES = ("test_accuracy", "test_f1_macro", "test_roc_auc", "cv_accuracy", "cv_f1_macro")
LOGGED_SUFFIXES = ("", "_std", "_ci_low", "_ci_high")
# Classifiers without class probabilities: their ROC AUC is logged on two classes only (from
# the decision function), never on more.
NO_PROBABILITIES = ("svm_rbf",)


def two_classes_only(metric: str) -> str | None:
    """Why runs log ``metric`` for two classes only, where it is the ROC AUC of a classifier
    without class probabilities; else None."""
    score, _, rest = metric.partition(".")
    classifier = rest.partition(".")[0]
    if score.startswith("test_roc_auc") and classifier in NO_PROBABILITIES:
        return (
            f"{classifier} gives no class probabilities, so runs log its ROC AUC for two "
            "classes only"
        )
    return None


def untested_classes(y_train: Any, y_test: Any) -> list[Any]:
    """The classes of the training labels ``y_train`` (an array) that the test labels have no
    rows of, as Python values. Where there are any, runs log no test ROC AUC (it needs every
    class; :func:`aefx.classifiers.score`), and test accuracy and F1 score the others alone."""
    return sorted(set(y_train.tolist()) - set(y_test.tolist()), key=str)


class ClassifiersConfig(_Frozen):
    use: tuple[ClassifierName, ...] = ("logreg", "svm_rbf", "random_forest", "gboost", "knn", "mlp")
    features: tuple[FeatureSet, ...] = ("raw", "pca", "encoded", "raw_encoded")
    # Tune each classifier over its grid by cross-validation on the training split.
    tune: bool = False
    tune_folds: int = Field(3, ge=2)
    logreg: LogRegConfig = LogRegConfig()
    svm_rbf: SvmConfig = SvmConfig()
    random_forest: ForestConfig = ForestConfig()
    gboost: GBoostConfig = GBoostConfig()
    knn: KnnConfig = KnnConfig()
    mlp: MlpConfig = MlpConfig()
    cnn: CnnConfig = CnnConfig()

    @model_validator(mode="after")
    def _some(self) -> ClassifiersConfig:
        if not self.use:
            raise ValueError("classifiers.use must name at least one classifier")
        if "raw" not in self.features or "encoded" not in self.features:
            raise ValueError("classifiers.features must include raw and encoded")
        for option, names in (("use", self.use), ("features", self.features)):
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(
                    f"classifiers.{option} lists {', '.join(twice)} more than once; name each once"
                )
        return self


class EvaluationConfig(_Frozen):
    """How scores become a verdict. The test split is only ever used for the final report."""

    # holdout: intervals over seeds on the test split; cv: over seeds x folds of k-fold
    # cross-validation on the training split (the test scores are still reported beside them).
    mode: Literal["holdout", "cv"] = "holdout"
    folds: int = Field(5, ge=2)
    confidence: float = Field(0.95, gt=0, lt=1)
    # What the tables, winners, verdicts, best pair, tuning and sweep rest on. f1_macro weighs
    # every class alike: with one class far commoner, accuracy mostly counts that class.
    metric: Literal["accuracy", "f1_macro"] = "accuracy"


def changed_settings(model: BaseModel) -> list[str]:
    """The fields of ``model`` whose value is not their default (params.yaml spells out every
    default, so being given is not being changed)."""
    return [
        name
        for name, field in type(model).model_fields.items()
        if getattr(model, name) != field.get_default(call_default_factory=True)
    ]


def unread_settings(
    cfg: ClassifiersConfig, evaluation: EvaluationConfig, changed_only: bool = True
) -> dict[str, str]:
    """The comparison's settings changed from their defaults (with ``changed_only``; else all
    of them) that it does not read, each with when it would: a classifier's settings outside
    ``classifiers.use``, the grids and their folds without tuning, ``evaluation.folds`` in
    holdout mode."""

    def fields(model: BaseModel) -> list[str]:
        return changed_settings(model) if changed_only else list(type(model).model_fields)

    unread: dict[str, str] = {}
    for name in get_args(ClassifierName):
        if name not in cfg.use:
            for field in fields(getattr(cfg, name)):
                unread[f"classifiers.{name}.{field}"] = f"with {name} in classifiers.use"
    if not cfg.tune:
        if "tune_folds" in fields(cfg):
            unread["classifiers.tune_folds"] = "with classifiers.tune: true"
        for name in cfg.use:
            if "grid" in fields(getattr(cfg, name)):
                unread[f"classifiers.{name}.grid"] = "with classifiers.tune: true"
    if evaluation.mode != "cv" and "folds" in fields(evaluation):
        unread["evaluation.folds"] = "with evaluation.mode: cv"
    return unread


def unread_warning(subject: str, unread: dict[str, str]) -> str:
    """One line naming the settings ``subject`` does not read and when each is read."""
    named = "; ".join(f"{name} (read {when})" for name, when in unread.items())
    them = "it" if len(unread) == 1 else "them"
    return f"{subject} does not read {named}, so changing {them} does nothing"


class TrackingConfig(_Frozen):
    # MLflow's rule (1 to 500 characters); an empty name ended the flow in an AttributeError
    # traceback as the run started.
    experiment: str = Field("aefx", min_length=1, max_length=500)
    # None: a SQLite store under mlruns/ in the project; MLFLOW_TRACKING_URI wins over both.
    uri: str | None = None
    # Every run registers its encoder (with the scaler) as a version of this model; null: off.
    registered_model: str | None = "aefx-encoder"
    # After each run, point this alias (e.g. champion) at the version with the best
    # promote_metric, as `aefx promote` does; null: only `aefx promote` moves aliases.
    promote_alias: str | None = None
    # A training-split score by default: choosing a champion by a test_ metric is choosing on
    # the test split. cv_ metrics are logged only in evaluation.mode cv. auto: the run's
    # evaluation.metric, cv_<metric>.logreg.encoded (Params.promote_metric).
    promote_metric: str = "auto"

    @model_validator(mode="after")
    def _names_mlflow_takes(self) -> TrackingConfig:
        # MLflow refused them when the run registered its encoder, after all the training.
        if self.registered_model is not None and (
            problem := model_name_problem(self.registered_model)
        ):
            raise ValueError(f"tracking.registered_model {self.registered_model!r}: {problem}")
        if self.promote_alias is not None and (problem := alias_problem(self.promote_alias)):
            raise ValueError(f"tracking.promote_alias {self.promote_alias!r}: {problem}")
        return self


def model_name_problem(name: str) -> str | None:
    """Why MLflow's model registry would refuse ``name`` for a registered model, or None."""
    if not name.strip():
        return "a registered model needs a name (null registers none)"
    if "/" in name or ":" in name:
        return "MLflow's registry takes no / or : in a model's name"
    if "'" in name and '"' in name:  # MLflow's search quotes a name in one or the other
        return "a name may hold ' or \", not both (MLflow's search could not quote it)"
    return None


def alias_problem(alias: str) -> str | None:
    """Why MLflow's model registry would refuse ``alias`` for an alias, or None."""
    if not re.fullmatch(r"[\w\-]{1,255}", alias):
        return "an alias is 1 to 255 letters, digits, _ and - (MLflow's rule)"
    if alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        return "MLflow keeps latest, v1, v2, ... for versions; choose another alias"
    return None


class AnomalyConfig(_Frozen):
    """Anomaly scores from reconstruction error (``aefx score``), in PyOD's conventions."""

    # Expected share of anomalies: the threshold is this upper quantile of the training rows'
    # reconstruction errors (PyOD's ``contamination``).
    contamination: float = Field(0.05, gt=0, lt=0.5)


class ComputeConfig(_Frozen):
    """Where mapped tasks (classifier cells, sweep members) run. Results do not depend on it."""

    # Cells scored at once by a thread pool when no Dask cluster is named (1 = one by one).
    threads: int = Field(2, ge=1)
    # tcp://host:8786: run mapped tasks on that existing Dask cluster (shared filesystem).
    dask_address: str | None = None
    # N: start a local Dask cluster of N single-threaded worker processes for the run.
    dask_workers: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_cluster(self) -> ComputeConfig:
        if self.dask_address and self.dask_workers:
            raise ValueError("set compute.dask_address or compute.dask_workers, not both")
        return self


SWEEPABLE = ("autoencoder", "seeds", "scale", "classifiers", "evaluation")
# Of the data settings, those that change how a table's values become features, not which rows
# there are or how they split: the members of a sweep are judged on one split.
SWEEPABLE_DATA = ("data.min_category_rows", "data.missing_category", "data.impute")


class SweepConfig(_Frozen):
    """``aefx sweep``: one pipeline run per member. Each key is a dotted param under one of
    SWEEPABLE (or one of SWEEPABLE_DATA) with a list of values; the members are every
    combination of them."""

    grid: dict[str, list[Any]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        # `--set sweep.grid.autoencoder.bottleneck=[8,16]` arrives nested: make keys dotted.
        if not isinstance(data, dict) or not isinstance(data.get("grid"), dict):
            return data
        return {**data, "grid": flatten(data["grid"])}

    @model_validator(mode="after")
    def _known_keys(self) -> SweepConfig:
        for key, values in self.grid.items():
            if key.startswith("data.") and key not in SWEEPABLE_DATA:
                raise ValueError(
                    f"grid: {key!r} would give the members different rows or splits to be "
                    f"judged on; of data, only {', '.join(SWEEPABLE_DATA)} may vary"
                )
            if key.split(".")[0] not in SWEEPABLE and key not in SWEEPABLE_DATA:
                raise ValueError(f"grid: {key!r} is not under {', '.join(SWEEPABLE)}")
            if not values:
                raise ValueError(f"grid: {key!r} has no values")
        return self

    def members(self) -> list[dict[str, Any]]:
        """Every combination, as {dotted key: value}, in a stable order."""
        import itertools

        keys = list(self.grid)
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(self.grid[k] for k in keys))
        ]


def overlap(one: Path, other: Path) -> bool:
    """Whether two absolute paths are one, or one lies inside the other."""
    return one.is_relative_to(other) or other.is_relative_to(one)


# What a run writes into each file output, by the suffix that says so.
_SUFFIX_FORMATS = {
    ".parquet": "a Parquet table",
    ".json": "JSON",
    ".keras": "a Keras model (Keras saves and loads .keras files only)",
    ".png": "a PNG image",
    ".csv": "a CSV table",
    ".md": "Markdown",
}
_OUTPUT_SUFFIXES = {
    **dict.fromkeys(("train", "test", "train_scaled", "test_scaled"), ".parquet"),
    **dict.fromkeys(
        (
            "data_schema",
            "scaler",
            "train_metrics",
            "autoencoder_metrics",
            "encoder_meta",
            "comparison",
            "differences",
            "scores",
            "run_record",
        ),
        ".json",
    ),
    **dict.fromkeys(("encoder", "autoencoder"), ".keras"),
    **dict.fromkeys(
        (
            "learning_curve_plot",
            "reconstruction_plot",
            "codes_plot",
            "comparison_plot",
            "confusion_plot",
        ),
        ".png",
    ),
    "comparison_rows": ".csv",
    "comparison_table": ".md",
}


class PathsConfig(_Frozen):
    """Every file the pipeline reads or writes, relative to the project root."""

    # Set by `aefx run` (not params.yaml): "." for the project, workspaces/<digest> otherwise.
    workspace: Path = Path(".")

    raw_dir: Path = Path("data/raw")
    train: Path = Path("data/processed/train.parquet")
    test: Path = Path("data/processed/test.parquet")
    train_scaled: Path = Path("data/scaled/train.parquet")
    test_scaled: Path = Path("data/scaled/test.parquet")
    data_schema: Path = Path("data/processed/schema.json")
    scaler: Path = Path("models/scaler.json")
    autoencoders: Path = Path("models/autoencoders")
    train_metrics: Path = Path("metrics/train.json")
    learning_curves: Path = Path("metrics/learning_curves")
    learning_curve_plot: Path = Path("plots/learning_curves.png")
    autoencoder_metrics: Path = Path("metrics/autoencoder.json")
    reconstruction_plot: Path = Path("plots/reconstructions.png")
    codes_plot: Path = Path("plots/codes_2d.png")
    encoder: Path = Path("models/encoder.keras")
    # The shipped seed's whole autoencoder (encoder then decoder, no noise): anomaly scores.
    autoencoder: Path = Path("models/autoencoder.keras")
    encoder_meta: Path = Path("models/encoder.json")
    encoders: Path = Path("models/encoders")
    encoded: Path = Path("data/encoded")
    comparison: Path = Path("metrics/comparison.json")
    comparison_rows: Path = Path("metrics/comparison_per_seed.csv")
    differences: Path = Path("metrics/differences.json")
    comparison_plot: Path = Path("plots/comparison.png")
    confusion_plot: Path = Path("plots/confusion_matrix.png")
    scores: Path = Path("metrics/scores.json")
    comparison_table: Path = Path("reports/comparison.md")
    run_record: Path = Path("metrics/mlflow_run.json")

    def outputs(self) -> dict[str, Path]:
        """Every path a stage writes, by its key, as written but normalised (``./a//b`` is
        ``a/b``)."""
        return {
            name: Path(os.path.normpath(value))
            for name, value in self
            if name not in ("workspace", "raw_dir")
        }

    def outside_project(self) -> str | None:
        """What is wrong with an output written as params.yaml may not: absolute, or climbing
        out of the project with ``..``. Such a path was written as given, wherever it was: a
        run replaced ``/etc/passwd`` with its training rows, and a run with ``--set`` wrote
        there rather than in its workspace. Checked where params are read, not here: a run
        makes its own paths absolute (a workspace, a Dask worker's copy)."""
        for name, path in self.outputs().items():
            if path.is_absolute() or path.parts[:1] == (os.pardir,):
                default = type(self).model_fields[name].default
                return (
                    f"paths.{name} ({path}) lies outside the project, and a run writes its "
                    "outputs inside it, where DVC versions them (a --set run, inside its "
                    f"workspace): give a path relative to the project, such as {default}"
                )
        return None

    def absolute_outputs(self) -> dict[str, Path]:
        """:meth:`outputs` as absolute paths, to compare with paths written either way."""
        return {name: Path(os.path.abspath(path)) for name, path in self.outputs().items()}

    @model_validator(mode="after")
    def _named_for_their_contents(self) -> PathsConfig:
        """Each file output named for what is written into it, and the shipped model's three
        files in one folder: its metadata names the two models by file name, beside it (as
        `aefx encode -m FOLDER` and the MLflow model find them). ``paths.encoder:
        models/enc.h5`` trained every autoencoder and classifier, then ended the run at
        logging (only .keras files are loaded)."""
        for name, suffix in _OUTPUT_SUFFIXES.items():
            path = getattr(self, name)
            if path.suffix != suffix:
                raise ValueError(
                    f"paths.{name} ({path}) holds {_SUFFIX_FORMATS[suffix]}: name it {suffix}"
                )
        if len({self.encoder.parent, self.autoencoder.parent, self.encoder_meta.parent}) > 1:
            raise ValueError(
                f"paths.encoder ({self.encoder}), paths.autoencoder ({self.autoencoder}) and "
                f"paths.encoder_meta ({self.encoder_meta}) are one model, whose metadata names "
                "the other two beside it: put them in one folder"
            )
        return self

    @model_validator(mode="after")
    def _outputs_apart(self) -> PathsConfig:
        """Each output its own path, none inside another (a folder output is replaced whole),
        and none in the raw data's folder (which DVC cannot let a stage both read and write):
        two outputs at one path trained the autoencoder and the classifiers on the test rows,
        without a word."""
        # Compared as absolute paths (a raw_dir written absolute may hold a relative output),
        # named as written.
        outputs, absolute = self.outputs(), self.absolute_outputs()
        raw = Path(os.path.abspath(self.raw_dir))
        for name, at in absolute.items():
            if overlap(at, raw):
                raise ValueError(
                    f"paths.{name} ({outputs[name]}) and paths.raw_dir ({self.raw_dir}), the "
                    "folder of the raw data, overlap; DVC cannot have a stage write where the "
                    "pipeline reads: keep the raw data in a folder of its own"
                )
        for first, second in itertools.combinations(outputs, 2):
            one, other = absolute[first], absolute[second]
            if one == other:
                raise ValueError(
                    f"paths.{first} and paths.{second} are both {outputs[first]}; give each "
                    "its own path"
                )
            if overlap(one, other):
                inner, outer = (first, second) if one.is_relative_to(other) else (second, first)
                raise ValueError(
                    f"paths.{inner} ({outputs[inner]}) lies inside paths.{outer} "
                    f"({outputs[outer]}), which a run replaces whole; give it a path outside"
                )
        return self


class Params(_Frozen):
    """Everything in params.yaml."""

    seeds: tuple[Seed, ...] = (1, 2, 3, 4, 5)
    data: DataConfig = DataConfig()
    scale: ScaleConfig = ScaleConfig()
    autoencoder: AutoencoderConfig = AutoencoderConfig()
    classifiers: ClassifiersConfig = ClassifiersConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()
    anomaly: AnomalyConfig = AnomalyConfig()
    compute: ComputeConfig = ComputeConfig()
    sweep: SweepConfig = SweepConfig()
    paths: PathsConfig = PathsConfig()

    @property
    def promote_metric(self) -> str:
        """The run metric that versions are ranked by: ``tracking.promote_metric``, where
        ``auto`` is the training-split (CV) score of logistic regression on the codes, in
        ``evaluation.metric`` (accuracy, or macro F1 when a run is judged by it)."""
        chosen = self.tracking.promote_metric
        return f"cv_{self.evaluation.metric}.logreg.encoded" if chosen == "auto" else chosen

    @model_validator(mode="after")
    def _data_apart_from_outputs(self) -> Params:
        if problem := data_among_outputs(self.data, self.paths):
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _some_seeds(self) -> Params:
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be a non-empty list of distinct integers")
        if "cnn" in self.classifiers.use and not self.data.is_image:
            raise ValueError(
                "classifiers.use: cnn needs image data (data.source digits, mnist, "
                "fashion_mnist or images)"
            )
        if self.autoencoder.architecture(self.data.is_image) == "conv" and not self.data.is_image:
            raise ValueError(
                "autoencoder: a conv autoencoder needs image data (data.source digits, mnist, "
                "fashion_mnist or images)"
            )
        metric = self.promote_metric
        if self.tracking.promote_alias and (problem := _unlogged_score(metric, self.classifiers)):
            # Found by the run's last step, after all the training, and every scheduled run's.
            raise ValueError(f"tracking.promote_metric {metric!r}: {problem}")
        if (
            self.tracking.promote_alias
            and metric.startswith("cv_")
            and self.evaluation.mode != "cv"
        ):
            # Refused before any work: the run could not promote by a metric it never logs.
            raise ValueError(
                f"tracking.promote_metric {metric!r} is logged only with "
                "evaluation.mode cv; set evaluation.mode=cv, or a test_ metric (which chooses "
                "on the test split)"
            )
        return self


def _unlogged_score(metric: str, classifiers: ClassifiersConfig) -> str | None:
    """Why a metric written as a score (``<score>.<classifier>.<features>``, its score test_ or
    cv_) is one these params' runs never log, else None. Other names (ae_loss, ...) pass."""
    parts = metric.split(".")
    if len(parts) != 3 or not parts[0].startswith(("test_", "cv_")):
        return None
    score, classifier, features = parts
    scores = [name + suffix for name in LOGGED_SCORES for suffix in LOGGED_SUFFIXES]
    for part, known, what in (
        (score, scores, "a score runs log"),
        (classifier, classifiers.use, "in classifiers.use"),
        (features, classifiers.features, "in classifiers.features"),
    ):
        if part in known:
            continue
        hint = did_you_mean(part, known)
        if part in get_args(ClassifierName) + get_args(FeatureSet) or hint is None:
            hint = f"({first_few(list(known), most=7)})"  # a real name, not in use: those in use
        return f"{part!r} is not {what} {hint}, so no run logs it"
    if classifier == "cnn" and features != "raw":
        return "the cnn classifier is trained on the raw images only, so no run logs it"
    return None


def data_among_outputs(data: DataConfig, paths: PathsConfig) -> str | None:
    """Why the data read would overlap an output, or None: ingest wrote its training rows over
    a ``data.path`` that was ``paths.train``, and outputs written into a folder read as the data
    would be read as part of it the next time."""
    outputs, absolute = paths.outputs(), paths.absolute_outputs()
    for key in ("path", "test_path", "labels_path"):
        value = getattr(data, key)
        if value is None:
            continue
        read = Path(os.path.abspath(value))
        for name, at in absolute.items():
            if overlap(read, at):
                output = outputs[name]
                return (
                    f"data.{key} ({value}) and paths.{name} ({output}) overlap: a run would "
                    f"write over or into the data; keep the data apart, under paths.raw_dir "
                    f"({paths.raw_dir})"
                )
    return None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and a YAML-typed value."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise AefxError(f"--set {text!r}: expected key=value, e.g. autoencoder.bottleneck=25")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise AefxError(f"--set {text!r}: value is not valid YAML ({exc.problem})") from None
    return key.strip().split("."), value


def set_dotted(tree: dict[str, Any], keys: list[str], value: Any, origin: str) -> None:
    node = tree
    for depth, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise AefxError(f"{origin}: {where} is a value, not a section")
        node = child
    node[keys[-1]] = value


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The params section (a model class) at the keys ``loc``, if that is one."""
    section: Any = Params
    for part in loc:
        field = section.model_fields.get(str(part)) if isinstance(section, type) else None
        section = field.annotation if field else None
    return section if isinstance(section, type) and issubclass(section, BaseModel) else None


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """Says a key is unknown, naming the closest known key of its section when one is close."""
    if (section := _section_at(loc[:-1])) is None:
        return "unknown key"
    hint = did_you_mean(str(loc[-1]), section.model_fields)
    return f"unknown key {hint}" if hint else "unknown key"


def _not_a_section(loc: tuple[Any, ...]) -> str:
    """Says a value was given where params take a section of keys, naming the first few."""
    if (section := _section_at(loc)) is None:  # sweep.grid: keys of the user's choosing
        return "a section of keys, not a value"
    keys = [name for name in section.model_fields if name != "workspace"]  # set by aefx run
    return f"a section of keys, not a value: set its keys ({first_few(keys)})"


def describe_errors(exc: ValidationError, origin: str) -> str:
    """One line for all of ``exc``'s problems, each led by the key it is about unless its message
    already names that key (a model validator's message about its own section, or the top
    level's, which has no key)."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = _plain_message(err)
        named = not where or msg.startswith((f"{where}.", f"{where}:"))
        problems.append(msg if named else f"{where}: {msg}")
    return f"{origin}: " + "; ".join(problems)


def _plain_message(err: Any) -> str:
    """Pydantic's message for one problem, in the words of a params file: where pydantic names
    a Python type or class (a valid tuple, an instance of AutoencoderConfig, a valid path for
    <class 'pathlib.Path'>), what the file should hold instead."""
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(err["loc"])
    if kind in ("model_type", "dict_type"):
        return _not_a_section(err["loc"])
    if kind in ("tuple_type", "list_type"):
        scalar = (
            isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""
        )
        return "Input should be a list, such as " + (f"[{value}]" if scalar else "[a, b]")
    msg = "Input should be a path, written as text" if kind == "path_type" else err["msg"]
    msg = msg.removeprefix("Value error, ")
    if kind in ("string_type", "path_type") and isinstance(value, bool):
        # YAML reads a bare yes, no, on, off, true or false as a boolean, not as a name.
        msg += (
            f" (YAML reads a bare yes, no, on or off as {str(value).lower()}: quote a name "
            "such as 'no')"
        )
    elif kind == "path_type" and isinstance(value, int | float):
        msg += f" (quote a name YAML reads as a number, such as '{value}')"
    return msg


class _TwiceWritten(yaml.YAMLError):
    def __init__(self, key: Any, first: int, second: int):
        super().__init__(f"key {key!r} is written twice (lines {first} and {second})")


class _OnceLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key written twice in one mapping is an error: PyYAML keeps the
    last silently, so a section pasted twice (two ``autoencoder:`` blocks) lost every setting
    of the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` then its overrides
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):  # refused below, as YAML refuses it
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _TwiceWritten(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep)


def load_params(path: Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Read params.yaml (or ``path``), apply dotted overrides and validate the result."""
    path = Path(path) if path is not None else DEFAULT_PARAMS
    root = project_above()
    if root and path.resolve() == (root / DEFAULT_PARAMS).resolve():
        # aefx takes the folder it runs in for the project: a run from its subfolder made a
        # second MLflow store and workspaces there, and read the data paths from there.
        raise AefxError(
            f"{path}: the params file of the project {root}, but aefx runs in {Path.cwd()}, "
            "a folder inside it, and takes the folder it runs in for the project (its data "
            f"paths, outputs and MLflow store): run aefx from {root}"
        )
    try:
        # Bytes: YAML reads UTF-8, and UTF-16 by its byte-order mark (PowerShell's `>` writes
        # it), whatever the locale's encoding.
        text = path.read_bytes()
    except FileNotFoundError:
        hint = "run aefx in the project folder, or give --params FILE"
        if path == DEFAULT_PARAMS and root:
            hint = f"the project is {root}, above this folder: run aefx there"
        raise AefxError(f"{path}: params file not found ({hint})") from None
    except OSError as exc:
        raise AefxError(f"{path}: cannot read params file ({exc.strerror})") from None
    try:
        tree = yaml.load(text, Loader=_OnceLoader) or {}  # a SafeLoader
    except _TwiceWritten as exc:
        raise AefxError(f"{path}: {exc}; YAML would keep only the last: write it once") from None
    except yaml.reader.ReaderError as exc:  # a byte that decodes to nothing, or a control one
        problem = (
            f"holds the control character U+{exc.character:04X} at position {exc.position}, "
            "which YAML does not allow"
            if exc.encoding == "unicode"
            else f"not UTF-8 text (byte 0x{exc.character:02x} at position {exc.position}); save "
            "it as UTF-8"
        )
        raise AefxError(f"{path}: {problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AefxError(f"{path}: not valid YAML{where}") from None
    if not isinstance(tree, dict):
        raise AefxError(f"{path}: expected a mapping of sections at the top level")
    origin = str(path)
    for text_override in overrides:
        keys, value = parse_override(text_override)
        set_dotted(tree, keys, value, f"--set {text_override}")
    if overrides:
        origin += " with --set " + " ".join(overrides)
    if isinstance(paths := tree.get("paths"), dict) and "workspace" in paths:
        # Never read: `aefx run` sets it, so a run wrote where it always does, without a word.
        raise AefxError(
            f"{origin}: paths.workspace is not read from params (aefx run writes to the project "
            "for params.yaml as it stands, to workspaces/<params digest>/ otherwise): give "
            f"aefx run --workspace {paths['workspace']} instead"
        )
    try:
        params = Params.model_validate(tree)
    except ValidationError as exc:
        raise AefxError(describe_errors(exc, origin)) from None
    if problem := params.paths.outside_project():
        raise AefxError(f"{origin}: {problem}")
    _warn_of_built_in_defaults(path, params)
    return params


def project_above() -> Path | None:
    """The aefx project (params.yaml beside dvc.yaml) that the folder aefx runs in lies inside,
    where this folder has no params.yaml of its own; else None."""
    if DEFAULT_PARAMS.exists():
        return None
    return next(
        (
            folder
            for folder in Path.cwd().resolve().parents
            if (folder / "dvc.yaml").is_file() and (folder / DEFAULT_PARAMS).is_file()
        ),
        None,
    )


def _warn_of_built_in_defaults(path: Path, params: Params) -> None:
    """A key a params file leaves out takes aefx's built-in default, which is the value the
    shipped params.yaml spells out. A project whose params.yaml was edited since would lose
    those edits, unseen, in a short file of its own (``--params mine.yaml``): say so for every
    left-out key whose value then differs from the project's params.yaml."""
    if not DEFAULT_PARAMS.is_file() or path.resolve() == DEFAULT_PARAMS.resolve():
        return
    try:
        project = load_params(DEFAULT_PARAMS)
    except AefxError:
        return  # a broken params.yaml is reported when it is the one in use
    ours, theirs = params.model_dump(mode="json"), project.model_dump(mode="json")
    differ = [key for key in _left_out(params) if _at(ours, key) != _at(theirs, key)]
    if differ:
        shown = ", ".join(f"{key}={_at(ours, key)!r}" for key in differ[:6])
        more = f" and {len(differ) - 6} more" if len(differ) > 6 else ""
        log.warning(
            "%s leaves out %d key(s) that params.yaml sets otherwise; they take aefx's built-in "
            "defaults: %s%s (start from a copy of params.yaml to keep its values)",
            path,
            len(differ),
            shown,
            more,
        )


def _at(tree: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        tree = tree[key]
    return tree


def _left_out(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """Dotted names of the leaf keys ``model`` took from its defaults (not given in the file)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _left_out(value, f"{prefix}{name}.")
        elif name not in model.model_fields_set:
            yield f"{prefix}{name}"


def flatten(tree: dict[str, Any]) -> dict[str, Any]:
    """Nested sections as one level of dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), child)
        else:
            flat[prefix] = value

    walk("", tree)
    return flat


def params_to_flat_dict(params: BaseModel, prefix: str = "") -> dict[str, str]:
    """Dotted-key view of every param (of ``Params``, or of one section under ``prefix``, e.g.
    ``autoencoder``), as MLflow logs them."""
    tree = params.model_dump(mode="json")
    return {
        key: "null" if value is None else str(value)
        for key, value in flatten({prefix: tree} if prefix else tree).items()
    }
