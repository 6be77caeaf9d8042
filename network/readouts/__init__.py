"""Readouts: spikes -> decisions, as scikit-learn estimators and as pipeline stages.

Fit on spikes: X is a list of per-sample event arrays (x = neuron, t = µs from the
sample's start; `samples_from_chunks` cuts a replayed stream into them), y the labels:

    readout = make_readout("counts", n_neurons=100).fit(X, y)      # a sklearn Pipeline
    ReadoutModel.from_estimator(readout).save("readout.npz")       # for the stages

then `streaming_readout` / `sample_readout` stages take model = "readout.npz".
"""

from network.readouts.features import (
    FilteredTraces,
    FirstSpikeTimes,
    SpikeCounts,
    feature_from_spec,
    samples_from_chunks,
)
from network.readouts.label_assignment import LabelAssignmentReadout
from network.readouts.max_membrane import MaxMembraneReadout
from network.readouts.model import ReadoutModel, load_readout, make_readout
from network.readouts.online_softmax import OnlineSoftmaxReadout

__all__ = ["FilteredTraces", "FirstSpikeTimes", "LabelAssignmentReadout", "MaxMembraneReadout", "OnlineSoftmaxReadout",
           "ReadoutModel",
           "SpikeCounts", "feature_from_spec", "load_readout", "make_readout", "samples_from_chunks"]
