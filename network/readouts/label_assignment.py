"""Label-assignment readout for unsupervised networks (Diehl & Cook 2015, Front. Comput.
Neurosci. 9:99, "Training" and "Classification"): each neuron is assigned the class for
which its mean response over the training set is highest; a sample is classified as the
class whose assigned neurons respond most on average."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class LabelAssignmentReadout(ClassifierMixin, BaseEstimator):
    """X: responses [n_samples, n_neurons] (spike counts, e.g. from SpikeCounts).

    Parameters: temperature (softmax temperature of predict_proba over the class scores;
    the scores are the mean responses of each class's neurons).
    Learned: classes_, mean_responses_ [n_classes, n_neurons], assignments_ [n_neurons]
    (class index per neuron; -1 for a neuron that never responded).
    """

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = temperature

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if not self.temperature > 0:
            raise ValueError(f"LabelAssignmentReadout: temperature must be > 0, got {self.temperature}")
        self.classes_, y_index = np.unique(y, return_inverse=True)
        k = self.classes_.shape[0]
        sums = np.zeros((k, X.shape[1]))
        np.add.at(sums, y_index, X)
        self.mean_responses_ = sums / np.bincount(y_index, minlength=k)[:, None]
        assignments = np.argmax(self.mean_responses_, axis=0)
        silent = np.all(self.mean_responses_ == self.mean_responses_[0], axis=0) & (self.mean_responses_[0] == 0)
        assignments[silent] = -1
        self.assignments_ = assignments
        return self

    def class_scores(self, X):
        """Mean response of each class's assigned neurons [n_samples, n_classes]."""
        check_is_fitted(self, "assignments_")
        X = validate_data(self, X, reset=False)
        return class_scores(X, self.assignments_, self.classes_.shape[0])

    def decision_function(self, X):
        return binary_decision(self.class_scores(X))

    def predict_proba(self, X):
        return softmax(self.class_scores(X) / self.temperature)

    def predict(self, X):
        scores = self.class_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # assignments by mean response assume non-negative responses (spike counts); on
        # arbitrary real features (check_estimator's blobs) the score is legitimately poor
        tags.classifier_tags.poor_score = True
        return tags


def class_scores(X: np.ndarray, assignments: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean response of each class's assigned neurons (0 for a class with none)."""
    scores = np.zeros((X.shape[0], n_classes))
    for c in range(n_classes):
        members = assignments == c
        if members.any():
            scores[:, c] = X[:, members].mean(axis=1)
    return scores


def binary_decision(scores: np.ndarray) -> np.ndarray:
    """scikit-learn's decision_function shape: [n] (> 0 means classes_[1]) for two classes."""
    return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
