"""params.yaml parsing and --set overrides."""

import logging
from pathlib import Path

import pytest
import yaml

from aefx.config import AutoencoderConfig, Params, flatten, load_params, params_to_flat_dict
from aefx.errors import AefxError

REPO = Path(__file__).resolve().parents[1]


def test_repo_params_match_the_reference_task():
    params = load_params(REPO / "params.yaml")
    synth = params.data.synthetic
    assert (synth.n_samples, synth.n_features, synth.n_informative, synth.n_redundant) == (
        1000,
        100,
        10,
        90,
    )
    assert params.data.test_size == 0.33 and params.data.split_seed == 1
    assert params.autoencoder.bottleneck_for(100) == 150  # the recipe chosen by train CV
    assert params.autoencoder.hidden_for(100) == (600, 300)  # also chosen by train CV
    assert AutoencoderConfig.reference().bottleneck_for(100) == 50  # the published: n / 2
    assert AutoencoderConfig.reference().hidden_for(100) == (200, 100)  # and 2n, n
    assert len(params.seeds) >= 3
    # epochs auto trains the reference the 50 passes chosen: its 670 training rows, less the
    # validation slice, make 10 steps a pass at batch 64.
    import numpy as np

    from tasks.train_autoencoder import carve_validation, shuffled_batches

    cfg = params.autoencoder
    X_fit, _ = carve_validation(np.zeros((670, 100), "float32"), cfg.validation_fraction, 1)
    _, per_pass = shuffled_batches(X_fit, cfg.batch_size, 1)
    assert (cfg.epochs, per_pass, cfg.for_steps(per_pass).epochs) == ("auto", 10, 50)
    # params.yaml spells out every built-in default, so a file that leaves a key out gets the
    # value params.yaml shows for it: one set of defaults, not two.
    assert params == Params()
    spelled_out = flatten(yaml.safe_load((REPO / "params.yaml").read_text()))
    set_by_aefx = {"paths.workspace"}
    assert set(spelled_out) == set(flatten(Params().model_dump())) - set_by_aefx


def test_override_is_typed_and_validated(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("autoencoder:\n  epochs: 5\n")
    params = load_params(path, ["autoencoder.bottleneck=25", "seeds=[3, 4]"])
    assert params.autoencoder.bottleneck == 25 and params.autoencoder.epochs == 5
    assert params.seeds == (3, 4)


@pytest.mark.parametrize(
    ("text", "overrides", "needle"),
    [
        ("autoencoder: {epochs: 0}\n", [], "autoencoder.epochs"),
        (
            "autoencoder: {bottlenek: 3}\n",
            [],
            "autoencoder.bottlenek: unknown key (did you mean 'bottleneck'?)",
        ),
        ("{}\n", ["data.synthetic.n_sample=9"], "(did you mean 'n_samples'?)"),
        ("{}\n", ["autoencoder.zzz=1"], "autoencoder.zzz: unknown key\n"),
        ("data: [1, 2\n", [], "not valid YAML at line"),
        ("- 1\n", [], "expected a mapping"),
        ("{}\n", ["autoencoder.bottleneck=-1"], "autoencoder.bottleneck"),
        ("{}\n", ["autoencoder.bottleneck"], "expected key=value"),
        ("seeds: [1]\n", ["seeds.x=1"], "seeds is a value"),
        ("{}\n", ["data.source=file"], "data.path is not set"),
        ("{}\n", ["classifiers.use=[xgboost]"], "classifiers.use"),
        (
            "autoencoder: {weight_ema: 0.99, early_stopping_patience: 5}\n",
            [],
            "weight_ema and early_stopping_patience exclude each other",
        ),
        ("{}\n", ["autoencoder.weight_ema=1"], "autoencoder.weight_ema"),
        ("{}\n", ["autoencoder.leaky_slope=0"], "autoencoder.leaky_slope"),
        (
            "{}\n",
            ["autoencoder.activation=elu", "autoencoder.leaky_slope=0.1"],
            "leaky_slope applies only to activation leaky_relu",
        ),
        ("{}\n", ["autoencoder.activation=tanh"], "autoencoder.activation"),
        ("{}\n", ["autoencoder.dropout=1"], "autoencoder.dropout"),
        ("{}\n", ["data.ignore=[id, label]"], "data.ignore names the label column 'label'\n"),
        ("{}\n", ["data.ignore=[id, id]"], "data.ignore names a column twice\n"),
        (
            "{}\n",
            ["data.ignore=[id, z07]"],
            "data.ignore names 'z07', the name of a code column (z0, z00, ...) in the encoded "
            "splits that carry data.ignore's columns; rename that column\n",
        ),
        (
            "{}\n",
            ["data.source=digits", "data.ignore=[id]"],
            "data.ignore is for tables; data.source 'digits' has none\n",
        ),
        (
            "{}\n",
            ["data.categorical=[region, label]"],
            "data.categorical names the label column 'label' (labels are classes already)\n",
        ),
        ("{}\n", ["data.categorical=[a, a]"], "data.categorical names a column twice\n"),
        (
            "{}\n",
            ["data.categorical=[region]", "data.ignore=[region]"],
            "data.categorical and data.ignore both name 'region'\n",
        ),
        (
            "{}\n",
            ["data.source=digits", "data.impute=median"],
            "data.impute is for tables; data.source 'digits' has none\n",
        ),
        ("{}\n", ["data.impute=mode"], "data.impute: Input should be 'median' or 'mean'"),
        # Two outputs at one path: ingest wrote the test rows over the training rows, and the
        # autoencoder and the classifiers were trained on the rows they were tested on.
        (
            "{}\n",
            ["paths.test=data/processed/train.parquet"],
            "paths.train and paths.test are both data/processed/train.parquet; give each its own "
            "path\n",
        ),
        (
            "paths: {train: ./data/encoded//train.parquet}\n",
            [],
            "paths.train (data/encoded/train.parquet) lies inside paths.encoded (data/encoded), "
            "which a run replaces whole; give it a path outside\n",
        ),
        (
            "{}\n",
            ["paths.raw_dir=data"],
            "paths.train (data/processed/train.parquet) and paths.raw_dir (data), the folder of "
            "the raw data, overlap; DVC cannot have a stage write where the pipeline reads: "
            "keep the raw data in a folder of its own\n",
        ),
        ("{}\n", ["paths.encoded=data"], "paths.encoded (data) and paths.raw_dir (data/raw)"),
        # An output outside the project was written as given: a run as root replaced
        # /etc/passwd with its training rows; a --set run wrote there, not in its workspace.
        (
            "paths: {train: /etc/train.parquet}\n",
            [],
            "paths.train (/etc/train.parquet) lies outside the project, and a run writes its "
            "outputs inside it, where DVC versions them (a --set run, inside its workspace): give "
            "a path relative to the project, such as data/processed/train.parquet\n",
        ),
        (
            "{}\n",
            ["paths.encoded=data/../../encoded"],
            "paths.encoded (../encoded) lies outside the project",
        ),
        # Pydantic's "Input should be a valid tuple" named a type the params file never writes.
        ("seeds: 3\n", [], "seeds: Input should be a list, such as [3]\n"),
        (
            "{}\n",
            ["classifiers.use=logreg, knn"],
            "classifiers.use: Input should be a list, such as [logreg, knn]\n",
        ),
        (
            "classifiers: {features: {raw: 1}}\n",
            [],
            "features: Input should be a list, such as [a, b]",
        ),
        ("data: {ignore: ''}\n", [], "data.ignore: Input should be a list, such as [a, b]\n"),
        # Pydantic's "a valid dictionary or instance of AutoencoderConfig" named a class.
        (
            "{}\n",
            ["autoencoder=5"],
            "autoencoder: a section of keys, not a value: set its keys (kind, base, hidden, "
            "hidden_ratios, bottleneck, ...)\n",
        ),
        ("paths: [a]\n", [], "paths: a section of keys, not a value: set its keys (raw_dir, "),
        ("{}\n", ["sweep.grid=5"], "sweep.grid: a section of keys, not a value\n"),
        # Pydantic's "Input is not a valid path for <class 'pathlib.Path'>" named a class.
        ("paths: {train: [a]}\n", [], "paths.train: Input should be a path, written as text\n"),
        (
            "{}\n",
            ["data.path=2024"],
            "data.path: Input should be a path, written as text (quote a name YAML reads as "
            "a number, such as '2024')\n",
        ),
        # One message for a union or a pair, not one per member or place, each led by
        # pydantic's tag (steps_per_execution.literal['auto']) or position (image_size.1).
        (
            "{}\n",
            ["autoencoder.steps_per_execution=abc"],
            "autoencoder.steps_per_execution: Input should be 'auto' or a whole number 1 or more\n",
        ),
        (
            "autoencoder: {steps_per_execution: 0}\n",
            [],
            "autoencoder.steps_per_execution: Input should be 'auto' or a whole number 1 or more\n",
        ),
        (
            "data: {source: digits, image_size: [8]}\n",
            [],
            "data.image_size: Input should be [height, width], two whole numbers 1 or more\n",
        ),
        (
            "data: {source: digits, image_size: 8}\n",
            [],
            "data.image_size: Input should be [height,",
        ),
        # Set by `aefx run` alone: the run wrote where it always does, without a word.
        (
            "{}\n",
            ["paths.workspace=ws/mine"],
            "paths.workspace is not read from params (aefx run writes to the project for "
            "params.yaml as it stands, to workspaces/<params digest>/ otherwise): give aefx run "
            "--workspace ws/mine instead\n",
        ),
        ("paths: {workspace: elsewhere}\n", [], "give aefx run --workspace elsewhere instead\n"),
        # An encoder not named .keras trained everything, then ended the run at logging.
        (
            "{}\n",
            ["paths.encoder=models/encoder.h5"],
            "paths.encoder (models/encoder.h5) holds a Keras model (Keras saves and loads .keras "
            "files only): name it .keras\n",
        ),
        ("{}\n", ["paths.codes_plot=plots/codes.pdf"], "holds a PNG image: name it .png\n"),
        ("{}\n", ["paths.test=data/processed/test.csv"], "holds a Parquet table: name it"),
        # The metadata names the models beside it: `aefx encode` would not find them.
        (
            "{}\n",
            ["paths.encoder_meta=meta/encoder.json"],
            "paths.encoder (models/encoder.keras), paths.autoencoder (models/autoencoder.keras) "
            "and paths.encoder_meta (meta/encoder.json) are one model, whose metadata names the "
            "other two beside it: put them in one folder\n",
        ),
        # A grid value its setting cannot take failed its own fits alone, passed over as NaN.
        (
            "{}\n",
            ["classifiers.logreg.grid.C=[-1, 1]"],
            "classifiers.logreg: grid.C: -1 is not a value C takes (Input should be greater "
            "than 0)\n",
        ),
        (
            "classifiers: {knn: {grid: {weights: [uniform, closest]}}}\n",
            [],
            "classifiers.knn: grid.weights: 'closest' is not a value weights takes",
        ),
        # Data at an output's path: ingest wrote its training rows over the user's file.
        (
            "data: {source: file, path: data/processed/train.parquet}\n",
            [],
            "data.path (data/processed/train.parquet) and paths.train "
            "(data/processed/train.parquet) overlap: a run would write over or into the data; "
            "keep the data apart, under paths.raw_dir (data/raw)\n",
        ),
        # A folder read as the data, which outputs would be written into (and read from next).
        (
            "data: {source: images, path: data}\n",
            [],
            "data.path (data) and paths.train (data/processed/train.parquet) overlap",
        ),
        (
            "data: {source: file, path: data/raw/a.csv}\n",
            ["data.test_path=models/encoders/test.csv"],
            "data.test_path (models/encoders/test.csv) and paths.encoders (models/encoders) "
            "overlap",
        ),
        # Names MLflow refuses: the flow ended in an AttributeError traceback as the run started.
        (
            "tracking: {experiment: ''}\n",
            [],
            "tracking.experiment: String should have at least 1 character\n",
        ),
        ("{}\n", [f"tracking.experiment={'x' * 501}"], "String should have at most 500 characters"),
        # Names MLflow refused when the run registered its encoder, after all the training.
        (
            "{}\n",
            ["tracking.registered_model=team/encoder"],
            "tracking.registered_model 'team/encoder': MLflow's registry takes no / or : in a "
            "model's name\n",
        ),
        (
            "tracking: {registered_model: 'a \"b\" c''s'}\n",
            [],
            "a name may hold ' or \", not both (MLflow's search could not quote it)\n",
        ),
        (
            "evaluation: {mode: cv}\ntracking: {promote_alias: latest}\n",
            [],
            "tracking.promote_alias 'latest': MLflow keeps latest, v1, v2, ... for versions; "
            "choose another alias\n",
        ),
        (
            "evaluation: {mode: cv}\ntracking: {promote_alias: best.one}\n",
            [],
            "tracking.promote_alias 'best.one': an alias is 1 to 255 letters, digits, _ and - "
            "(MLflow's rule)\n",
        ),
        # A file named under the default source: the run trained on the synthetic task instead.
        (
            "{}\n",
            ["data.path=data/raw/rows.csv"],
            "data.path is set, but data.source 'synthetic' reads no file (it is embedded): set "
            "data.source to file for a table, images for images\n",
        ),
        (
            "data: {source: digits, path: photos}\n",
            [],
            "data.path is set, but data.source 'digits' reads no file",
        ),
        (
            "{}\n",
            ["data.test_path=test.csv"],
            "data.test_path is for data.source file (a table whose test rows come in a file of "
            "their own); data.source 'synthetic' has none\n",
        ),
        (
            "{}\n",
            ["data.source=digits", "data.labels_path=labels.csv"],
            "data.labels_path is for data.source images (the labels of a .npy or of a folder "
            "of images); data.source 'digits' has its labels already\n",
        ),
        (
            "data:\n  label: no\n",
            ["data.ignore=[id, on]"],
            "data.label: Input should be a valid string (YAML reads a bare yes, no, on or off "
            "as false: quote a name such as 'no'); data.ignore.1: Input should be a valid "
            "string (YAML reads a bare yes, no, on or off as true: quote a name such as 'no')",
        ),
        (
            "{}\n",
            ["data.image_size=[32, 32]"],
            "data.image_size is for images; data.source 'synthetic' is a table\n",
        ),
        (
            "{}\n",
            ["data.source=digits", "data.image_size=[32, 0]"],
            "data.image_size.1: Input should be greater than 0",
        ),
        (
            "{}\n",
            ["data.source=digits", "data.categorical=[a]"],
            "data.categorical is for tables; data.source 'digits' has none\n",
        ),
        (
            "{}\n",
            ["data.min_category_rows=5"],
            "data.min_category_rows is for the columns data.categorical names, and it names none\n",
        ),
        (
            "{}\n",
            ["data.missing_category=true"],
            "data.missing_category is for the columns data.categorical names, and it names none\n",
        ),
        ("{}\n", ["data.min_category_rows=0"], "data.min_category_rows: Input should be greater"),
        # PyYAML keeps the last of a key written twice: the first section's settings were lost.
        (
            "autoencoder:\n  kind: dense\n  epochs: 3\nseeds: [1]\nautoencoder:\n  epochs: 9\n",
            [],
            "key 'autoencoder' is written twice (lines 1 and 5); YAML would keep only the last: "
            "write it once\n",
        ),
        (
            "autoencoder:\n  epochs: 3\n  kind: dense\n  epochs: 9\n",
            [],
            "key 'epochs' is written twice (lines 2 and 4); YAML would keep only the last: "
            "write it once\n",
        ),
        ("? [a, b]\n: 1\n", [], "not valid YAML at line 1\n"),  # a key YAML cannot hash
        # Seeds out of NumPy's range failed inside the flow, with a traceback.
        ("{}\n", ["seeds=[1, -1]"], "seeds.1: Input should be greater than or equal to 0\n"),
        ("{}\n", ["seeds=[4294967296]"], "seeds.0: Input should be less than or equal to 4294967"),
        ("{}\n", ["data.split_seed=-3"], "data.split_seed: Input should be greater than or equal"),
        # inf (YAML's .inf, or `--set x=inf`) passed every bound: the layers' widths ended in
        # an OverflowError, a learning rate in NaN weights and PCA's traceback, in the flow.
        (
            "autoencoder: {bottleneck_ratio: .inf}\n",
            [],
            "autoencoder.bottleneck_ratio: Input should be a finite number\n",
        ),
        (
            "{}\n",
            ["autoencoder.learning_rate=inf"],
            "autoencoder.learning_rate: Input should be a finite",
        ),
        (
            "{}\n",
            ["autoencoder.hidden_ratios=[3, inf]"],
            "autoencoder.hidden_ratios.1: Input should be a finite",
        ),
        ("{}\n", ["classifiers.logreg.C=nan"], "classifiers.logreg.C: Input should be a finite"),
        (
            "classifiers: {svm_rbf: {grid: {gamma: [scale, -0.5]}}}\n",
            [],
            "classifiers.svm_rbf: grid.gamma: -0.5 is not a value gamma takes (Input should be "
            "'scale', 'auto' or a number 0 or more)\n",
        ),
        # Past int64: TensorFlow's "out-of-range integer" traceback once the flow had started.
        (
            "{}\n",
            [f"autoencoder.batch_size={10**20}"],
            "autoencoder.batch_size: Input should be at most 9223372036854775807 (NumPy's int64)\n",
        ),
        (
            "{}\n",
            [f"autoencoder.hidden=[64, {2**63}]"],
            "autoencoder.hidden: Input should be at most",
        ),
        # Classifier settings scikit-learn refuses ended the flow in its traceback, after the
        # autoencoders had trained.
        (
            "{}\n",
            ["classifiers.svm_rbf.gamma=-1"],
            "classifiers.svm_rbf.gamma: Input should be 'scale', 'auto' or a number 0 or more\n",
        ),
        (
            "{}\n",
            ["classifiers.mlp.hidden_layer_sizes=[64, 0]"],
            "classifiers.mlp.hidden_layer_sizes.1: Input should be greater than 0\n",
        ),
        (
            "{}\n",
            ["classifiers.cnn.filters=[-16]"],
            "classifiers.cnn.filters.0: Input should be greater than 0\n",
        ),
        # A classifier named twice made two cells of one name, and compare_classifiers failed
        # inside the flow (inconsistent numbers of samples), with a traceback.
        (
            "{}\n",
            ["classifiers.use=[logreg, knn, logreg, knn]"],
            "classifiers.use lists knn, logreg more than once; name each once\n",
        ),
        (
            "{}\n",
            ["classifiers.features=[raw, encoded, raw]"],
            "classifiers.features lists raw more than once; name each once\n",
        ),
        (
            "tracking: {promote_alias: champion}\n",
            [],
            "tracking.promote_metric 'cv_accuracy.logreg.encoded' is logged only with "
            "evaluation.mode cv",
        ),
    ],
)
def test_bad_params_name_the_key(tmp_path, text, overrides, needle):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(AefxError) as err:
        load_params(path, overrides)
    message = str(err.value)
    assert needle in message + "\n" and "\n" not in message  # a needle ending \n: the end
    assert message.startswith((str(path), "--set"))


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("autoencoder: {weight_ema: 0.9, early_stopping_patience: 5}\n", "autoencoder: weight_ema"),
        ("autoencoder: {conv_filters: []}\n", "autoencoder.conv_filters must"),
        ("seeds: []\n", "seeds must"),
        ("autoencoder: {epochs: 0}\n", "autoencoder.epochs: Input should"),
    ],
)
def test_each_problem_names_its_key_once(tmp_path, text, start):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(AefxError) as err:
        load_params(path)
    assert str(err.value).startswith(f"{path}: {start}")


def test_promoting_after_each_run_needs_a_metric_the_run_logs(tmp_path):
    """The default promote metric is a training-split score, logged only in cv mode; a test_
    metric is accepted in either mode (the README says what choosing on it costs)."""
    path = tmp_path / "params.yaml"
    path.write_text("tracking: {promote_alias: champion}\n")
    assert load_params(path, ["evaluation.mode=cv"]).tracking.promote_alias == "champion"
    by_test = ["tracking.promote_metric=test_accuracy.logreg.encoded"]
    assert load_params(path, by_test).evaluation.mode == "holdout"


def test_the_promote_metric_follows_the_metric_runs_are_judged_by(tmp_path):
    """A run judged by macro F1 (an imbalanced table) promoted its champion by accuracy, the
    score it had been told to distrust, unless promote_metric was set by hand as well."""
    path = tmp_path / "params.yaml"
    path.write_text("tracking: {promote_alias: champion}\nevaluation: {mode: cv}\n")
    assert load_params(path).promote_metric == "cv_accuracy.logreg.encoded"
    by_f1 = load_params(path, ["evaluation.metric=f1_macro"])
    assert by_f1.promote_metric == "cv_f1_macro.logreg.encoded"
    named = ["evaluation.metric=f1_macro", "tracking.promote_metric=cv_accuracy.knn.raw"]
    assert load_params(path, named).promote_metric == "cv_accuracy.knn.raw"
    with pytest.raises(AefxError, match=r"'cv_f1_macro\.logreg\.encoded' is logged only with"):
        load_params(path, ["evaluation.metric=f1_macro", "evaluation.mode=holdout"])


@pytest.mark.parametrize(
    ("metric", "problem"),
    [
        ("test_accuracy.logreg.encode", "'encode' is not in classifiers.features (did you mean "),
        ("test_acuracy.logreg.encoded", "'test_acuracy' is not a score runs log (did you mean "),
        ("cv_accuracy.logregg.encoded", "'logregg' is not in classifiers.use (did you mean 'log"),
        ("test_accuracy.svm_rbf.raw", "'svm_rbf' is not in classifiers.use (logreg, knn, cnn), "),
        ("test_accuracy.knn.pca", "'pca' is not in classifiers.features (raw, encoded), so no"),
        ("test_accuracy.cnn.encoded", "the cnn classifier is trained on the raw images only, "),
    ],
)
def test_a_promote_metric_no_run_logs_is_refused_before_the_run(tmp_path, metric, problem):
    """A run with promote_alias set promotes by promote_metric as its last step: a name no run
    logs (a typo, a classifier or feature set not in use) failed there, after all the training,
    and so did every scheduled run. Names of other forms (ae_loss) are left as given."""
    path = tmp_path / "params.yaml"
    path.write_text(
        "tracking: {promote_alias: champion}\nevaluation: {mode: cv}\n"
        "classifiers: {use: [logreg, knn, cnn], features: [raw, encoded]}\n"
        "data: {source: digits}\n"
    )
    with pytest.raises(AefxError) as caught:
        load_params(path, [f"tracking.promote_metric={metric}"])
    assert f"tracking.promote_metric {metric!r}: {problem}" in str(caught.value)
    assert str(caught.value).endswith(", so no run logs it")
    for logged in ("cv_accuracy_ci_low.knn.raw", "test_roc_auc.logreg.encoded", "ae_loss"):
        assert load_params(path, [f"tracking.promote_metric={logged}"]).promote_metric == logged
    unpromoted = ["tracking.promote_alias=null", f"tracking.promote_metric={metric}"]
    assert load_params(path, unpromoted).promote_metric == metric  # `aefx promote` alone reads it


@pytest.mark.parametrize(
    ("overrides", "unread"),
    [
        ([], {}),  # the repo's params.yaml: every default spelled out, none unread
        (
            ["classifiers.use=[logreg]", "classifiers.svm_rbf.C=10", "classifiers.logreg.C=10"],
            {"classifiers.svm_rbf.C": "with svm_rbf in classifiers.use"},
        ),
        (
            ["classifiers.knn.grid={n_neighbors: [3]}", "classifiers.tune_folds=5"],
            {
                "classifiers.tune_folds": "with classifiers.tune: true",
                "classifiers.knn.grid": "with classifiers.tune: true",
            },
        ),
        (["classifiers.knn.grid={n_neighbors: [3]}", "classifiers.tune=true"], {}),
        (["evaluation.folds=10"], {"evaluation.folds": "with evaluation.mode: cv"}),
        (["evaluation.folds=10", "evaluation.mode=cv"], {}),
    ],
)
def test_comparison_settings_that_change_nothing_are_named(overrides, unread):
    """`--set classifiers.svm_rbf.C=10` with svm_rbf not in use, a grid without tuning, or
    folds in holdout mode changed nothing, silently; the comparison warns of them."""
    from aefx.config import unread_settings

    params = load_params(REPO / "params.yaml", overrides)
    assert unread_settings(params.classifiers, params.evaluation) == unread


def test_missing_params_file(tmp_path):
    with pytest.raises(AefxError, match=r"params file not found \(run aefx in the project"):
        load_params(tmp_path / "nope.yaml")


def test_flat_params_use_dotted_keys():
    flat = params_to_flat_dict(Params())
    assert flat["autoencoder.epochs"] == "auto"
    assert flat["autoencoder.bottleneck"] == "null"
    assert flat["paths.encoder"] == "models/encoder.keras"


def test_a_short_params_file_is_told_which_edits_of_params_yaml_it_does_not_get(
    tmp_path, monkeypatch, caplog
):
    """Keys a file leaves out take aefx's built-in defaults (the shipped params.yaml's values),
    not the project's params.yaml as edited since: a short file of one's own would silently
    lose those edits."""
    shipped = (REPO / "params.yaml").read_text()
    edited = shipped.replace("  kind: denoising\n", "  kind: deep-bn\n").replace(
        "  batch_size: 64 ", "  batch_size: 16 "
    )
    assert edited.count("deep-bn\n") == 1 and "batch_size: 16 " in edited
    (tmp_path / "params.yaml").write_text(edited)
    (tmp_path / "full.yaml").write_text(edited)
    (tmp_path / "short.yaml").write_text("seeds: [1, 2]\nautoencoder:\n  epochs: 20\n")
    (tmp_path / "shipped.yaml").write_text("autoencoder:\n  epochs: 20\n")
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="aefx.config"):
        params = load_params(Path("short.yaml"))
    [warning] = caplog.messages
    assert warning.startswith("short.yaml leaves out 2 key(s) ")
    assert "autoencoder.kind='denoising'" in warning and "autoencoder.batch_size=64" in warning
    assert "autoencoder.epochs" not in warning and "seeds" not in warning  # given in the file
    assert "paths." not in warning  # left out, but the same as params.yaml's
    assert params.autoencoder.kind == "denoising"  # what the warning says happens
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aefx.config"):
        load_params(Path("full.yaml"))
        load_params(Path("params.yaml"), ["seeds=[1]"])
        monkeypatch.chdir(REPO)  # the shipped params.yaml: nothing left out differs from it
        load_params(tmp_path / "shipped.yaml")
    assert caplog.messages == []


def test_prefect_yaml_gives_deployment_runs_the_environment_aefx_sets_for_itself():
    from aefx.console import QUIET_ENV

    [deployment] = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    assert deployment["work_pool"]["job_variables"]["env"] == QUIET_ENV


def test_a_yaml_merge_key_may_be_overridden_in_its_mapping(tmp_path):
    """`<<: *base` followed by one of base's keys is YAML's way to override it, not a key
    written twice."""
    path = tmp_path / "params.yaml"
    path.write_text(
        "classifiers:\n"
        "  logreg:\n    grid: &grid {C: [0.1, 1.0]}\n"
        "  svm_rbf:\n    grid:\n      <<: *grid\n      C: [1.0, 3.0]\n      gamma: [scale]\n"
    )
    grids = load_params(path).classifiers
    assert grids.logreg.grid == {"C": [0.1, 1.0]}
    assert grids.svm_rbf.grid == {"C": [1.0, 3.0], "gamma": ["scale"]}


def test_an_absolute_raw_dir_is_compared_with_the_outputs_where_they_are(tmp_path, monkeypatch):
    """The raw data's folder written absolute, the outputs relative to the project: compared
    as written, the project's data/ held data/processed without a word."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "params.yaml"
    path.write_text(f"paths: {{raw_dir: '{tmp_path / 'data'}'}}\n")
    with pytest.raises(AefxError) as err:
        load_params(path)
    assert str(err.value) == (
        f"{path}: paths.train (data/processed/train.parquet) and paths.raw_dir "
        f"({tmp_path / 'data'}), the folder of the raw data, overlap; DVC cannot have a stage "
        "write where the pipeline reads: keep the raw data in a folder of its own"
    )
    path.write_text(f"paths: {{raw_dir: '{tmp_path / 'raw'}'}}\n")
    assert load_params(path).paths.raw_dir == tmp_path / "raw"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        # Saved in Latin-1 (an editor's default on some systems): UnicodeDecodeError traceback.
        (
            "# café\nseeds: [1, 2]\n".encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at position 5); save",
        ),
        # Before: "not valid YAML", with no line.
        (b"seeds: [1, 2]\x00\n", "holds the control character U+0000 at position 13, which YAML"),
    ],
)
def test_a_params_file_that_is_not_text_yaml_reads_is_one_line(tmp_path, data, needle):
    path = tmp_path / "params.yaml"
    path.write_bytes(data)
    with pytest.raises(AefxError) as err:
        load_params(path)
    assert str(err.value).startswith(f"{path}: {needle}") and "\n" not in str(err.value)


def test_a_params_file_in_utf16_is_read(tmp_path):
    """PowerShell's `>` writes UTF-16 with a byte-order mark: YAML reads it, and aefx read the
    file as the locale's encoding first (a UnicodeDecodeError traceback)."""
    path = tmp_path / "params.yaml"
    path.write_bytes("autoencoder: {epochs: 3}\nseeds: [4, 5]\n".encode("utf-16"))
    params = load_params(path)
    assert (params.autoencoder.epochs, params.seeds) == (3, (4, 5))
