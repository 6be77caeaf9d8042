"""Max-over-time membrane readout: one non-spiking leaky-integrator neuron per class whose
membrane is a weighted sum of filtered input traces; the class whose membrane peaks highest
wins (the readout of Cramer et al. 2022 for SHD). Trained by cross-entropy on the peak
membranes with full-batch Adam."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from network.readouts.label_assignment import binary_decision, softmax


class MaxMembraneReadout(ClassifierMixin, BaseEstimator):
    """X: [n_samples, n_bins * n_inputs], bin-major (FilteredTraces output): the input traces
    at n_bins time points. Membrane of class k at bin b: V[b, k] = z_b · coef_[k] + intercept_[k]
    with z the standardised traces; score_k = max_b V[b, k].

    Parameters: n_bins; alpha (L2 penalty); max_iter; learning_rate (Adam); tol (stop when
    the loss improves by less); random_state. Learned: classes_, coef_ [k, n_inputs],
    intercept_ [k], mean_, scale_ (standardisation per column), n_iter_.
    """

    def __init__(self, n_bins: int = 1, alpha: float = 1e-4, max_iter: int = 300, learning_rate: float = 0.05,
                 tol: float = 1e-7, random_state=None) -> None:
        self.n_bins = n_bins
        self.alpha = alpha
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.tol = tol
        self.random_state = random_state

    def _bins(self, X: np.ndarray) -> np.ndarray:
        n_bins = int(self.n_bins)
        if n_bins < 1 or X.shape[1] % n_bins:
            raise ValueError(f"MaxMembraneReadout: {X.shape[1]} features do not split into n_bins={self.n_bins}")
        return ((X - self.mean_) / self.scale_).reshape(X.shape[0], n_bins, -1)

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z = self._bins(X)
        n, _, d = Z.shape
        k = self.classes_.shape[0]
        rng = check_random_state(self.random_state)
        W = rng.normal(0.0, 0.01, (d, k))
        b = np.zeros(k)
        onehot = np.eye(k)[y_index]
        m = [np.zeros_like(W), np.zeros_like(b)]
        v = [np.zeros_like(W), np.zeros_like(b)]
        previous = np.inf
        self.n_iter_ = 0
        rows = np.arange(n)[:, None]
        for it in range(1, int(self.max_iter) + 1):
            V = Z @ W + b  # [n, bins, k]
            peak = np.argmax(V, axis=1)  # [n, k]
            logits = np.take_along_axis(V, peak[:, None, :], axis=1)[:, 0, :]
            p = softmax(logits)
            loss = -np.mean(np.log(p[np.arange(n), y_index] + 1e-12)) + 0.5 * self.alpha * np.sum(W * W)
            err = (p - onehot) / n  # [n, k]
            Zsel = Z[rows, peak]  # [n, k, d]: the traces at each class's peak bin
            gW = np.einsum("nkd,nk->dk", Zsel, err) + self.alpha * W
            gb = err.sum(axis=0)
            for j, (param, grad) in enumerate(((W, gW), (b, gb))):
                m[j] = 0.9 * m[j] + 0.1 * grad
                v[j] = 0.999 * v[j] + 0.001 * grad * grad
                param -= self.learning_rate * (m[j] / (1 - 0.9 ** it)) / (np.sqrt(v[j] / (1 - 0.999 ** it)) + 1e-8)
            self.n_iter_ = it
            if previous - loss < self.tol and it > 10:
                break
            previous = loss
        self.coef_ = W.T.copy()
        self.intercept_ = b
        return self

    def peak_membranes(self, X):
        """score_k = max over bins of class k's membrane [n_samples, n_classes]."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False)
        return (self._bins(X) @ self.coef_.T + self.intercept_).max(axis=1)

    def decision_function(self, X):
        return binary_decision(self.peak_membranes(X))

    def predict_proba(self, X):
        return softmax(self.peak_membranes(X))

    def predict(self, X):
        scores = self.peak_membranes(X)
        return self.classes_[np.argmax(scores, axis=1)]
