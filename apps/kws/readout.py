"""Fitting the keyword spotter's readout: a perceptron with one hidden ReLU layer (or
multinomial logistic regression) on standardised per-word spike-rate features, returned as
plain arrays for KwsModel."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

ABSENT_BIAS = -30.0  # output bias of a class without examples: never predicted


def fit_readout(X: np.ndarray, y: np.ndarray, n_classes: int, *, hidden: int, alpha: float, seed: int = 0,
                epochs: int = 80) -> dict[str, Any]:
    """Weights w_hidden [features, hidden], b_hidden, w_out [hidden or features, n_classes],
    b_out, and train_accuracy, for labels y in 0..n_classes-1; alpha: L2 penalty (per
    sample, as scikit-learn's MLP; logistic regression gets C = 1 / alpha)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    present = np.unique(y)
    if present.size < 2:
        raise ConfigError(f"kws train: the readout needs examples of at least two classes, got {present.tolist()}")
    if hidden > 0:
        model: Any = MLPClassifier((hidden,), alpha=alpha, max_iter=epochs, batch_size=min(256, X.shape[0]), random_state=seed)
    else:
        model = LogisticRegression(C=1.0 / alpha, max_iter=300)
    with threadpool_limits(1), warnings.catch_warnings():  # threaded BLAS on a small busy machine is slower
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget is the point
        model.fit(X, y)
        accuracy = round(float(model.score(X, y)), 4)
    if hidden > 0:
        w_hidden, b_hidden = model.coefs_[0], model.intercepts_[0]
        coef, intercept = model.coefs_[1].T, model.intercepts_[1]
    else:
        w_hidden, b_hidden = np.zeros((X.shape[1], 0)), np.zeros(0)
        coef, intercept = model.coef_, model.intercept_
    w_out = np.zeros((coef.shape[1], n_classes))
    b_out = np.full(n_classes, ABSENT_BIAS)
    if present.size == 2:  # one logistic output: softmax over (0, z) is sigmoid(z)
        b_out[present] = (0.0, float(intercept[0]))
        w_out[:, present[1]] = coef[0]
    else:
        w_out[:, model.classes_] = coef.T
        b_out[model.classes_] = intercept
    return {"w_hidden": np.ascontiguousarray(w_hidden), "b_hidden": b_hidden, "w_out": w_out, "b_out": b_out,
            "train_accuracy": accuracy}
