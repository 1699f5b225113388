"""sslkit-recsys on sslkit-events' data: the two-tower model (Yao et al. 2021) ranks cold-start
items from their features. A cross-member test: the recsys-only venv of `nox -s isolation`
has no sslkit-events, and on the recsys package's own 800-customer sample the 199 cold products
are too few to tell apart (seed 1: 0.111 against 0.100 for a random order)."""

from __future__ import annotations

import pytest

pytest.importorskip("sslkit.recsys", reason="needs sslkit-recsys")
pytest.importorskip("sslkit.events", reason="needs sslkit-events' Online Retail sample")


def test_cold_start_items_are_ranked_from_their_features(tmp_path, one_thread):
    """10% of the Online Retail products are held out of training; a short two-tower run ranks
    them, from their descriptions and prices, for the users who bought them far above its
    untrained towers and a random order."""
    from sslkit.core import api

    result = api.pretrain(
        "recsys", "twotower",
        overrides=["data.path=online-retail", "data.cold_items=0.1", f"train.out={tmp_path}", "train.quiet=true",
                   "train.device=cpu", "train.max_steps=100", "train.batch_size=512"],
    )  # fmt: skip
    m = result.metrics
    assert m["cold_items"] > 50
    assert m["cold_recall@20"] > 2 * m["control_cold_recall@20"]
    assert m["cold_recall@20"] > 2 * m["random_cold_recall@20"]
    assert m["recall@20"] > 3 * m["control_recall@20"]
