"""A softmax readout learned online: one sample at a time, as a stream delivers them.

The delta rule on softmax outputs (the stochastic gradient of the cross-entropy), inputs
standardised by running (Welford) means and variances, L2 weight decay and a learning rate
lr0 / (1 + n / decay_samples). Nothing is fitted in batch: `partial_fit` sees each sample
once in the order given; `fit` streams the training set `epochs` times in a seeded
shuffled order.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from network.readouts.label_assignment import softmax


class OnlineSoftmaxReadout(ClassifierMixin, BaseEstimator):
    """Parameters: lr0 (initial learning rate); l2 (weight decay per sample); decay_samples
    (samples over which the learning rate halves); epochs (passes of `fit`); random_state
    (order of `fit`'s passes). Learned: classes_, coef_ [k, n_features], intercept_ [k],
    mean_ / var_ (running standardisation), n_samples_seen_."""

    def __init__(self, lr0: float = 0.05, l2: float = 1e-4, decay_samples: float = 2000.0, epochs: int = 5,
                 random_state=None) -> None:
        self.lr0 = lr0
        self.l2 = l2
        self.decay_samples = decay_samples
        self.epochs = epochs
        self.random_state = random_state

    def fit(self, X, y) -> OnlineSoftmaxReadout:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        for name in ("coef_", "intercept_", "classes_"):
            self.__dict__.pop(name, None)
        rng = check_random_state(self.random_state)
        classes = np.unique(y)
        for _ in range(int(self.epochs)):
            order = rng.permutation(X.shape[0])
            self.partial_fit(X[order], y[order], classes=classes)
        if not hasattr(self, "coef_"):  # epochs = 0: an untrained (uniform) readout
            self._start(X.shape[1], classes)
        return self

    def _start(self, n_features: int, classes: np.ndarray) -> None:
        self.classes_ = np.asarray(classes)
        self.coef_ = np.zeros((self.classes_.shape[0], n_features))
        self.intercept_ = np.zeros(self.classes_.shape[0])
        self.mean_ = np.zeros(n_features)
        self._m2 = np.zeros(n_features)
        self.var_ = np.zeros(n_features)
        self.n_samples_seen_ = 0

    def partial_fit(self, X, y, classes=None) -> OnlineSoftmaxReadout:
        """Learn from each row of X in order (the first call needs `classes`)."""
        first = not hasattr(self, "coef_")
        X, y = validate_data(self, X, y, reset=first)
        if first:
            if classes is None:
                raise ValueError("OnlineSoftmaxReadout.partial_fit: the first call needs classes=")
            self._start(X.shape[1], np.unique(classes))
        index = np.searchsorted(self.classes_, y)
        if np.any(index >= self.classes_.shape[0]) or np.any(self.classes_[np.minimum(index, len(self.classes_) - 1)] != y):
            raise ValueError(f"OnlineSoftmaxReadout.partial_fit: labels outside classes {self.classes_.tolist()}")
        for x, k in zip(X, index):
            self._learn(x, int(k))
        return self

    def _learn(self, x: np.ndarray, k: int) -> None:
        self.n_samples_seen_ += 1
        d = x - self.mean_
        self.mean_ += d / self.n_samples_seen_
        self._m2 += d * (x - self.mean_)
        self.var_ = self._m2 / max(self.n_samples_seen_ - 1, 1)
        z = (x - self.mean_) / (np.sqrt(self.var_) + 1e-3)
        a = self.coef_ @ z + self.intercept_
        p = np.exp(a - a.max())
        p /= p.sum()
        p[k] -= 1.0
        lr = self.lr0 / (1.0 + self.n_samples_seen_ / self.decay_samples)
        self.coef_ -= lr * (np.outer(p, z) + self.l2 * self.coef_)
        self.intercept_ -= lr * (p + self.l2 * self.intercept_)

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        z = (X - self.mean_) / (np.sqrt(self.var_) + 1e-3)
        scores = z @ self.coef_.T + self.intercept_
        return scores[:, 1] - scores[:, 0] if self.classes_.shape[0] == 2 else scores

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        z = (X - self.mean_) / (np.sqrt(self.var_) + 1e-3)
        return softmax(z @ self.coef_.T + self.intercept_)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
