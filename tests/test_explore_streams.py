"""The page's seeded streams are trajviz.sampling's: hash words and minibatch orders bit for bit,
Gaussian noise to 1e-15 (it goes through log, cos and sin)."""

from __future__ import annotations

import numpy as np
import pytest

from trajviz import sampling
from trajviz.explore import write_explorer
from trajviz.explore.browser import needs_chromium

pytestmark = needs_chromium()

SEEDS = [0, 1, 7, 123456789, 2**32 - 1, 2**32, 2**40 + 5, 2**53 - 1]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from trajviz.explore.browser import chromium, open_page

    path = tmp_path_factory.mktemp("explore") / "streams.html"
    write_explorer(path, "regression", opt=["sgd"])
    messages: list[str] = []
    with chromium() as browser:
        yield open_page(browser, path, messages=messages)
    assert not messages, messages


def test_hash_words_are_bit_identical(page):
    args = [(seed, stream, counter, index) for seed in SEEDS for stream in (1, 2)
            for counter in (0, 1, 299, 2**31, 2**32 - 1) for index in (0, 1, 2, 999, 2**31 + 3)]
    got = page.evaluate("(args) => args.map((a) => window.trajvizLib.streams.word(...a))", args)
    want = [int(sampling.word(*a)) for a in args]
    assert got == want
    got_u = page.evaluate("(args) => args.map((a) => window.trajvizLib.streams.uniform(...a))", args)
    assert got_u == [float(sampling.uniform(*a)) for a in args]  # exact: (word + 0.5) / 2**32


@pytest.mark.parametrize("seed", SEEDS)
def test_gaussian_noise_matches_to_1e_15(page, seed):
    steps, n = [0, 1, 2, 57, 299, 300, 10**6], 7
    got = page.evaluate("([seed, steps, n]) => steps.map((t) => Array.from(window.trajvizLib.streams.gaussianNoise(seed, t, n)))",
                        [seed, steps, n])
    want = np.stack([sampling.gaussian_noise(seed, t, n).reshape(-1) for t in steps])
    got = np.array(got)
    assert np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-3)) <= 1e-15


@pytest.mark.parametrize("seed", [0, 3, 2**40 + 5])
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_epoch_permutations_are_identical(page, seed, n):
    epochs = [0, 1, 2, 31, 2**20]
    got = page.evaluate("([seed, epochs, n]) => epochs.map((e) => Array.from(window.trajvizLib.streams.epochPermutation(seed, e, n)))",
                        [seed, epochs, n])
    for e, perm in zip(epochs, got):
        assert perm == sampling.epoch_permutation(seed, e, n).tolist()


@pytest.mark.parametrize("batch", [1, 7, 16, 333, 999, 1000])
def test_minibatch_rows_are_identical(page, batch):
    n, seed = 1000, 11
    per = sampling.batches_per_epoch(n, batch)
    steps = sorted({0, 1, per - 1, per, per + 1, 3 * per - 1, 300})
    got = page.evaluate("""([seed, steps, n, b]) => {
      const batches = new window.trajvizLib.streams.Batches(seed, n, b);
      return steps.map((t) => Array.from(batches.rows(t)));
    }""", [seed, steps, n, batch])
    for t, rows in zip(steps, got):
        assert rows == sampling.batch_rows(seed, t, n, batch).tolist(), t
