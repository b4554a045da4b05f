"""The comparison's statistics on inputs whose answer is known."""

import math

import numpy as np
import pytest

from aefx.stats import BETTER, UNCLEAR, WORSE, paired_difference, t_interval, verdict


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


def test_noisy_small_differences_are_not_called():
    a = [0.90, 0.95, 0.91, 0.96, 0.92]
    b = [0.93, 0.92, 0.94, 0.91, 0.93]
    assert verdict(paired_difference(a, b)) == UNCLEAR


def test_unpaired_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0, 2.0], [1.0])


def test_the_best_pair_is_chosen_on_the_training_split_in_cv_mode():
    """The confusion matrix shows the best pair's test predictions; in cv mode "best" is by
    CV accuracy, so a pair that only wins on the test split is not the one shown."""
    from aefx.report import best_pair

    on_test = {"classifier": "knn", "features": "raw", "accuracy": 0.95}
    on_cv = {"classifier": "logreg", "features": "encoded", "accuracy": 0.93}
    assert best_pair([on_test, on_cv]) == ("knn", "raw")  # holdout: test is all there is
    cv = [{**on_test, "cv_accuracy": 0.90}, {**on_cv, "cv_accuracy": 0.94}]
    assert best_pair(cv) == ("logreg", "encoded")
