"""A toy two-tower recommender for tests of several embedding spaces per run.

Users and items of a small synthetic interaction set with a block structure (users of block
``b`` mostly interact with items of block ``b``), split into train and test interactions per
user; matrix factorisation trained with BPR (Rendle et al. 2009) embeds users and items in two
spaces, ``user`` and ``item`` (``Method.spaces``). The plugin's task is the core recommendation
metric (:func:`sslkit.core.evaluate.recommend.recommendation_task`).

Register it in-process (``sslkit.core.plugin.register(plugin)``); it is not an entry point.
This module stays light (no torch): the heavy parts live in ``twotower_impl``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sslkit.core.plugin import MethodSpec, Plugin, Registry, TaskSpec, distribution_version


@dataclass
class TwoTowerData:
    path: str = ""
    """Unused (the interactions are synthetic); kept for the data contract."""
    users: int = 48
    items: int = 60
    blocks: int = 4
    """Users of block ``u % blocks`` prefer items of block ``i % blocks``."""
    p_in: float = 0.5
    """Probability of an interaction inside the user's block."""
    p_out: float = 0.02
    """Probability of an interaction outside it."""
    test_fraction: float = 0.2
    """Share of each user's interactions held out for the test split."""
    seed: int = 0


@dataclass
class TwoTowerMF:
    embed_dim: int = 16
    init_std: float = 0.1


plugin = Plugin(
    name="twotower",
    version=distribution_version("sslkit-testing"),
    summary="synthetic user-item interactions with BPR matrix factorisation (two spaces)",
    data_config=TwoTowerData,
    load_data="sslkit.testing.twotower_impl:load_data",
    methods=Registry(
        "method",
        [
            MethodSpec(
                "bpr-mf",
                TwoTowerMF,
                "sslkit.testing.twotower_impl:build_mf",
                summary="matrix factorisation trained with the BPR loss; spaces user and item",
                paper="Rendle et al., BPR: Bayesian Personalized Ranking from Implicit "
                "Feedback, UAI 2009",
            )
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "recommend",
                "sslkit.testing.twotower_impl:recommend_task",
                summary="all-rank Recall@K and NDCG@K of test interactions, train ones masked",
                needs_labels=False,
            )
        ],
    ),
    default_method="bpr-mf",
    default_task="recommend",
)
