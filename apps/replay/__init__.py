"""Offline replay of audio data sets: train on the train split, score the test split."""
