"""Implementation of :mod:`ttjax.extrapolate` (dataset-size extrapolation, supplementary §D)."""
