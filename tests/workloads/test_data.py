"""The offline corpus, the Dirichlet split and the metrics."""

import numpy as np
import pytest

from workloads.data import dirichlet_split, load_corpus
from workloads.fedcore import classification_metrics


def test_bbc_news_ships_2225_articles_in_5_topics():
    c = load_corpus("bbc_news")
    assert len(c.texts) == 2225 and c.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert np.bincount(c.labels).tolist() == [510, 386, 417, 511, 401]


def test_dirichlet_split_partitions_and_is_seeded():
    labels = np.repeat(np.arange(4), 50)
    a = dirichlet_split(labels, 5, 0.1, np.random.default_rng(1))
    b = dirichlet_split(labels, 5, 0.1, np.random.default_rng(1))
    allidx = np.sort(np.concatenate(a))

    np.testing.assert_array_equal(allidx, np.arange(200))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # Small alpha: most clients are dominated by one label.
    dominated = [np.bincount(labels[p], minlength=4).max() / len(p) for p in a]
    assert np.median(dominated) > 0.6 and min(len(p) for p in a) >= 1


def test_metrics_by_hand():
    acc, f1 = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    # class 0: tp 1 fp 1 fn 0 -> 2/3; class 1: tp 2 fp 0 fn 1 -> 4/5; class 2 absent.
    assert acc == 0.75 and f1 == pytest.approx((2 / 3 + 4 / 5) / 2)
    with pytest.raises(ValueError, match="unknown corpus 'imdb'"):
        load_corpus("imdb")


def test_scenario_rejects_heads_that_do_not_divide_the_width(tmp_path):
    from sim.config.scenario import ScenarioError, load_scenario

    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  algorithm: fd_full\n  hidden_size: 32\n  heads: 3\n")
    with pytest.raises(ScenarioError, match=r"s.yaml:4: workload.heads: must divide hidden_size=32 \(got 3\)"):
        load_scenario(path)
