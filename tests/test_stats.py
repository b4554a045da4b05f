"""The comparison's statistics on inputs whose answer is known."""

import io
import math

import numpy as np
import pytest

from aefx.stats import (
    BETTER,
    UNCLEAR,
    WORSE,
    cv_interval,
    paired_difference,
    paired_difference_on_rows,
    paired_difference_over_folds,
    t_interval,
    verdict,
    weighted_scores,
)


def test_t_interval_matches_the_textbook():
    iv = t_interval([0.90, 0.92, 0.94, 0.96, 0.98])
    assert iv.mean == pytest.approx(0.94) and iv.std == pytest.approx(0.0316228, rel=1e-5)
    # t(0.975, 4) = 2.776445
    assert iv.half_width == pytest.approx(2.776445 * 0.0316228 / math.sqrt(5), rel=1e-5)


def test_single_value_has_no_finite_interval():
    iv = t_interval([0.5])
    assert iv.low == -math.inf and iv.high == math.inf
    assert verdict(paired_difference([0.9], [0.1])) == UNCLEAR


def test_identical_feature_sets_are_no_clear_difference():
    scores = [0.91, 0.93, 0.92, 0.95, 0.90]
    assert verdict(paired_difference(scores, scores)) == UNCLEAR


def test_a_feature_set_that_is_the_label_is_better():
    """Logistic regression on a copy of the label is perfect; on noise it guesses."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    perfect, noise = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 200)
        X_label = y.reshape(-1, 1).astype(float)
        X_noise = rng.normal(size=(200, 5))
        for X, out in ((X_label, perfect), (X_noise, noise)):
            Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.5, random_state=seed)
            out.append(LogisticRegression().fit(Xa, ya).score(Xb, yb))
    assert verdict(paired_difference(perfect, noise)) == BETTER
    assert verdict(paired_difference(noise, perfect)) == WORSE


def _label_and_noise_predictions(rows: int = 200) -> tuple[np.ndarray, ...]:
    """Test labels and, per seed, the test predictions of logistic regression on a copy of the
    label and on noise (the same split for every seed, as in the pipeline)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2 * rows)
    train, test = slice(0, rows), slice(rows, None)
    perfect, noise = [], []
    for seed in range(5):
        X_label = y.reshape(-1, 1) + np.random.default_rng(seed).normal(0, 0.01, (2 * rows, 1))
        X_noise = np.random.default_rng(seed).normal(size=(2 * rows, 5))
        for X, out in ((X_label, perfect), (X_noise, noise)):
            out.append(LogisticRegression().fit(X[train], y[train]).predict(X[test]))
    return y[test], np.array(perfect), np.array(noise)


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_a_feature_set_that_is_the_label_is_better_counting_test_rows(metric):
    y, perfect, noise = _label_and_noise_predictions()
    assert verdict(paired_difference_on_rows(y, perfect, noise, metric)) == BETTER
    assert verdict(paired_difference_on_rows(y, noise, perfect, metric)) == WORSE


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_identical_predictions_are_no_clear_difference_counting_test_rows(metric):
    y, _, noise = _label_and_noise_predictions()
    diff = paired_difference_on_rows(y, noise, noise.copy(), metric)
    assert diff.mean == 0 and diff.half_width == 0 and verdict(diff) == UNCLEAR


def test_one_test_row_is_not_a_verdict():
    """Codes that get one more of 50 test rows right, on both seeds: over seeds alone the
    difference has no spread and is called; counting the draw of test rows, it is not."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 50)
    baseline = np.tile(np.where(rng.random(50) < 0.8, y, (y + 1) % 3), (2, 1))
    learned = baseline.copy()
    wrong = np.flatnonzero(baseline[0] != y)[0]
    learned[:, wrong] = y[wrong]
    per_seed = (learned == y).mean(axis=1) - (baseline == y).mean(axis=1)
    assert verdict(paired_difference(list(per_seed), [0.0, 0.0])) == BETTER
    diff = paired_difference_on_rows(y, learned, baseline, "accuracy")
    assert diff.mean == pytest.approx(1 / 50) and verdict(diff) == UNCLEAR


def test_row_level_scores_are_scikit_learns():
    """The interval's centre is the mean of the per-seed scores the comparison table shows."""
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(4)
    names = np.array(["cat", "dog", "emu", "yak"])
    y = names[rng.integers(0, 4, 120)]
    a = np.where(rng.random((3, 120)) < 0.7, y, names[rng.integers(0, 3, (3, 120))])
    b = np.where(rng.random((3, 120)) < 0.6, y, names[rng.integers(0, 4, (3, 120))])
    for metric, scorer in (
        ("accuracy", accuracy_score),
        ("f1_macro", lambda t, p: f1_score(t, p, average="macro")),
    ):
        expected = np.mean([scorer(y, p) - scorer(y, q) for p, q in zip(a, b, strict=True)])
        assert paired_difference_on_rows(y, a, b, metric).mean == pytest.approx(expected)


def test_the_test_row_part_of_the_interval_is_the_textbook_one():
    """With no spread over seeds the interval is the normal one for a mean of per-row
    differences: 1.96 standard errors. The bootstrap draws are fixed: reruns agree."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    a = np.tile(np.where(rng.random(400) < 0.9, y, 1 - y), (4, 1))
    b = np.tile(np.where(rng.random(400) < 0.8, y, 1 - y), (4, 1))
    per_row = (a[0] == y).astype(float) - (b[0] == y)
    expected = 1.959964 * per_row.std() / math.sqrt(len(y))
    diff = paired_difference_on_rows(y, a, b, "accuracy")
    assert diff.std == 0 and diff.half_width == pytest.approx(expected, rel=0.05)
    assert paired_difference_on_rows(y, a, b, "accuracy") == diff


def test_never_narrower_than_the_seeds_alone():
    """Two seeds that disagree: the test rows add chance, they never take any away."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 1000)
    baseline = np.tile(np.where(rng.random(1000) < 0.85, y, 1 - y), (2, 1))
    learned = np.stack([np.where(rng.random(1000) < p, y, 1 - y) for p in (0.95, 0.80)])
    for metric in ("accuracy", "f1_macro"):
        with_rows = paired_difference_on_rows(y, learned, baseline, metric)
        ones = np.ones((1, 1000))
        per_seed = (
            weighted_scores(metric, ones, y, learned)[0]
            - weighted_scores(metric, ones, y, baseline)[0]
        )
        seeds = paired_difference(list(per_seed), [0.0, 0.0])
        assert with_rows.mean == pytest.approx(seeds.mean)
        assert with_rows.low <= seeds.low and seeds.high <= with_rows.high


def test_one_seed_gives_no_verdict_counting_test_rows():
    y, perfect, noise = _label_and_noise_predictions()
    assert verdict(paired_difference_on_rows(y, perfect[:1], noise[:1], "accuracy")) == UNCLEAR


def test_predictions_that_do_not_fit_the_test_rows_are_refused():
    y, perfect, noise = _label_and_noise_predictions()
    with pytest.raises(ValueError, match="do not fit"):
        paired_difference_on_rows(y[:-1], perfect, noise, "accuracy")


def test_noisy_small_differences_are_not_called():
    a = [0.90, 0.95, 0.91, 0.96, 0.92]
    b = [0.93, 0.92, 0.94, 0.91, 0.93]
    assert verdict(paired_difference(a, b)) == UNCLEAR


def test_unpaired_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0, 2.0], [1.0])


def test_cv_interval_is_nadeau_and_bengios_corrected_t():
    """Six scores of 2 seeds x 3 folds: variance of the mean s**2 (1/6 + 1/2), t on 5 dof."""
    scores = [0.90, 0.92, 0.94, 0.96, 0.98, 0.94]
    iv, plain = cv_interval(scores, folds=3), t_interval(scores)
    assert iv.mean == plain.mean and iv.std == plain.std and iv.n == 6
    # t(0.975, 5) = 2.570582
    assert iv.half_width == pytest.approx(2.570582 * plain.std * math.sqrt(1 / 6 + 1 / 2), rel=1e-5)
    assert cv_interval([0.5], folds=3).low == -math.inf
    with pytest.raises(ValueError, match="at least 2 folds"):
        cv_interval(scores, folds=1)


def _cv_scores(X: np.ndarray, y: np.ndarray, seeds: int, folds: int = 5) -> list[float]:
    """Logistic regression's accuracy on each seed x fold, the folds drawn per seed as the
    pipeline draws them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    scores = []
    for seed in range(seeds):
        for fit, val in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            scores.append(LogisticRegression().fit(X[fit], y[fit]).score(X[val], y[val]))
    return scores


def test_over_folds_the_label_is_better_and_identical_sets_are_not():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)
    label = _cv_scores(y.reshape(-1, 1) + rng.normal(0, 0.01, (100, 1)), y, seeds=2)
    noise = _cv_scores(rng.normal(size=(100, 5)), y, seeds=2)
    assert verdict(paired_difference_over_folds(label, noise, folds=5)) == BETTER
    assert verdict(paired_difference_over_folds(noise, label, folds=5)) == WORSE
    assert verdict(paired_difference_over_folds(noise, noise, folds=5)) == UNCLEAR


def test_over_folds_equally_good_feature_sets_are_seldom_called():
    """30 data sets on which two feature sets are equally good by construction (the same signal
    column beside different noise), scored as `evaluation.mode: cv` scores them by default
    (5 seeds x 5 folds). Each data set favours one of them by chance; treating the 25 paired
    scores as independent calls that chance "better" or "worse" on 7 of them; the corrected
    interval, meant to err on 5%, on none."""
    plain = corrected = 0
    for k in range(30):
        rng = np.random.default_rng(100 + k)
        y = rng.integers(0, 2, 120)
        signal = (y + rng.normal(0, 1, 120)).reshape(-1, 1)
        a = _cv_scores(np.hstack([signal, rng.normal(size=(120, 3))]), y, seeds=5)
        b = _cv_scores(np.hstack([signal, rng.normal(size=(120, 3))]), y, seeds=5)
        plain += verdict(paired_difference(a, b)) != UNCLEAR
        corrected += verdict(paired_difference_over_folds(a, b, folds=5)) != UNCLEAR
    assert plain >= 5, plain
    assert corrected <= 3, corrected


def test_the_best_pair_is_chosen_on_the_training_split_in_cv_mode():
    """The confusion matrix shows the best pair's test predictions; in cv mode "best" is by
    CV accuracy, so a pair that only wins on the test split is not the one shown."""
    from aefx.report import best_pair

    on_test = {"classifier": "knn", "features": "raw", "accuracy": 0.95}
    on_cv = {"classifier": "logreg", "features": "encoded", "accuracy": 0.93}
    assert best_pair([on_test, on_cv]) == ("knn", "raw")  # holdout: test is all there is
    cv = [{**on_test, "cv_accuracy": 0.90}, {**on_cv, "cv_accuracy": 0.94}]
    assert best_pair(cv) == ("logreg", "encoded")


def test_the_chosen_metric_picks_the_winners_the_best_pair_and_the_verdicts_shown():
    """With one class far commoner, predicting it scores high accuracy and low macro F1:
    evaluation.metric f1_macro makes the tables, the best pair and the verdicts shown follow
    F1, and the accuracy table stays beside it."""
    from rich.console import Console

    from aefx.config import EvaluationConfig
    from aefx.report import best_pair, comparison_markdown, verdict_table

    majority = {"classifier": "logreg", "features": "raw", "accuracy": 0.95, "f1_macro": 0.49}
    learned = {"classifier": "logreg", "features": "encoded", "accuracy": 0.93, "f1_macro": 0.8}
    records = [{**r, "n_seeds": 1} for r in (majority, learned)]
    diffs = [
        {"classifier": "logreg", "contrast": "encoded - raw", "metric": m, "basis": "test",
         "mean": mean, "ci_low": None, "ci_high": None, "verdict": "no clear difference"}
        for m, mean in (("accuracy", -0.02), ("f1_macro", 0.31))
    ]  # fmt: skip
    assert best_pair(records) == ("logreg", "raw")
    assert best_pair(records, "f1_macro") == ("logreg", "encoded")

    by_f1 = comparison_markdown(records, diffs, EvaluationConfig(metric="f1_macro"))
    first, second = by_f1.split("## Paired")[0].split("**f1_macro on")[1].split("**accuracy on")
    assert "| logreg | 0.4900 ± ? | **0.8000 ± ?** |" in first
    assert "| logreg | **0.9500 ± ?** | 0.9300 ± ? |" in second
    by_accuracy = comparison_markdown(records, diffs, EvaluationConfig())
    assert by_accuracy.count(" on the test split: mean") == 1
    assert "| logreg | **0.9500 ± ?** | 0.9300 ± ? |" in by_accuracy

    for metric, mean in (("accuracy", "-0.0200"), ("f1_macro", "+0.3100")):
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(verdict_table(diffs, metric))
        shown = console.export_text()
        assert f"paired {metric}" in shown and mean in shown
        assert len([line for line in shown.splitlines() if "encoded - raw" in line]) == 1


def test_the_confusion_matrix_has_every_class_of_the_data(tmp_path):
    """A test split without rows of class 1, whose best pair predicts only class 0, drew a
    one-by-one matrix that named neither the missing class nor that none was predicted (and
    scikit-learn warned of it in the run's output)."""
    from aefx.report import plot_confusion

    drawn = plot_confusion(
        np.zeros(6, dtype=int),
        np.zeros(6, dtype=int),
        ("logreg", "encoded"),
        tmp_path / "confusion.png",
        "accuracy",
        classes=np.array([0, 1]),
    )
    assert drawn.tolist() == [[6, 0], [0, 0]]
    assert (tmp_path / "confusion.png").stat().st_size > 0
    three = plot_confusion(
        np.array(["a", "b", "b"]),
        np.array(["a", "a", "b"]),
        ("knn", "raw"),
        tmp_path / "three.png",
        "accuracy",
        classes=np.array(["a", "b", "c"]),
    )
    assert three.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
