"""Optimizers on a real network: train, record, and see the paths on one plane of its loss.

>>> import trajviz.nn as tn
>>> r = tn.train("mlp", steps=30, device="cpu")          # the tutorial's four optimizers
>>> r.plane.directions.shape, round(float(r.plane.explained.sum()), 2) <= 1
((2, 61), True)
>>> loss = r.plane.loss_at(0.0, 0.0)                       # the loss at the common start

Modules: :mod:`~trajviz.nn.scenarios` (the built-in networks and data),
:mod:`~trajviz.nn.training` (``train`` and its result), :mod:`~trajviz.nn.plane`
(PCA and filter-normalised random planes, projection), :mod:`~trajviz.nn.grid`
(the batched loss evaluator), :mod:`~trajviz.nn.landscape` (the plane as a
landscape for the renderer).
"""

from __future__ import annotations

from .scenarios import SCENARIOS, Scenario
from .scenarios import names as scenario_names
from .training import MethodRun, OffPlaneWarning, TrainResult, train

__all__ = ["train", "TrainResult", "MethodRun", "OffPlaneWarning", "Scenario", "SCENARIOS", "scenario_names"]
