"""The examples in the public API's docstrings run (those not marked +SKIP)."""

import doctest
import importlib

import pytest

MODULES = ["trajviz.specs", "trajviz.surfaces", "trajviz.optimizers", "trajviz.schedules", "trajviz.engine",
           "trajviz.result", "trajviz.tune", "trajviz.sweeps", "trajviz.render.style", "trajviz.render.plot",
           "trajviz.render.animate", "trajviz.render.explain", "trajviz.surfaces.formula", "trajviz.checks",
           "trajviz.explore.expression", "trajviz.api", "trajviz.nn.grid"]


@pytest.fixture
def clean_registries():
    """Examples register surfaces and optimizers: keep them out of the other tests."""
    import trajviz.optimizers as O
    import trajviz.surfaces as S

    O.names(), S.names()
    saved = dict(O._REGISTRY), dict(S._REGISTRY)
    yield
    for registry, copy in zip((O._REGISTRY, S._REGISTRY), saved):
        registry.clear()
        registry.update(copy)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, clean_registries):
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert failed == 0


def test_every_registered_optimizer_writes_out_its_update_rule():
    import trajviz.optimizers as O

    for name in (*O.CLASSIC, "adamw", "adamax", "nadam", "radam"):
        doc = O.get_entry(name).doc
        assert "lr" in doc and ("x_{t+1}" in doc or "x <-" in doc or "step" in doc), name
