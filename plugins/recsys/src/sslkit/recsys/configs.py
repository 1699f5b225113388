"""Config dataclasses of the recsys plugin: ``[data]``, the encoder options and one
``[method]`` class per method.

Plain dataclasses, no torch: ``sslkit plugins`` and ``--help`` read them without importing a
heavy library. The attribute docstring under a field is its ``--help`` text. Defaults are the
papers' settings (LightGCN: He et al. 2020; SimGCL/XSimGCL: Yu et al. 2022/2023 as SELFRec
runs them; SGL: Wu et al. 2021); ``presets/<method>/default.toml`` sets the ``[train]`` budget of
the embedded default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sslkit.core.method_config import MethodOptions

Split = Literal["auto", "temporal", "leave_k_out", "random", "given"]
Format = Literal["auto", "csv", "tsv", "parquet", "lightgcn"]


@dataclass
class RecsysData:
    """``[data]``: where the interactions come from, how they are filtered and split."""

    path: str = ""
    """Interactions: a CSV, TSV or Parquet file (one row per user-item interaction), a LightGCN
    text file (`user item item ...` per line), an embedded data set (online-retail,
    online-retail-sample), or "" for the embedded online-retail."""
    test_path: str = ""
    """A file of test interactions in the same format (then data.split = given)."""
    format: Format = "auto"
    """File format; auto reads the suffix (.csv, .tsv, .parquet; .txt is the LightGCN format)."""
    user_column: str = ""
    """The user column; "" finds user, user_id, userId, customer_id or CustomerID."""
    item_column: str = ""
    """The item column; "" finds item, item_id, itemId, product_id, movie_id or StockCode."""
    time_column: str = ""
    """The timestamp column (numbers or dates); "" finds timestamp, time, date or InvoiceDate,
    none when absent."""
    weight_column: str = ""
    """An optional rating or weight column; rows with a weight <= min_weight are dropped."""
    min_weight: float = 0.0
    """With a weight column: keep interactions whose weight is above this (e.g. ratings > 3)."""
    split: Split = "auto"
    """auto: given with a test file, temporal with timestamps, random otherwise. temporal: the
    last test_fraction of each user's interactions by time; leave_k_out: each user's last k
    (random k without timestamps); random: a random test_fraction of all interactions."""
    test_fraction: float = 0.2
    """Share of each user's interactions held out (temporal), or of all of them (random)."""
    leave_k: int = 1
    """Interactions per user held out by leave_k_out (users with fewer than k + 1 stay in
    training only)."""
    val_fraction: float = 0.1
    """Share of the training interactions cut (as the test split is) into a validation split
    that chooses the training step; 0: no selection, the last step is kept."""
    min_user_interactions: int = 1
    """Drop users with fewer interactions than this (after removing duplicates); counted."""
    min_item_interactions: int = 1
    """Drop items with fewer interactions than this; counted."""
    unknown: Literal["drop", "error"] = "drop"
    """Test interactions of users or items never seen in training: drop (counted) or error."""
    cold_items: float = 0.0
    """Share of the items (drawn at random, seeded by data.seed) held out of training with all
    their interactions: the cold split, where users rank only these items, scored from their
    features (the two-tower model's cold-start recall); 0: none."""
    item_features: str = ""
    """Item feature table (CSV, TSV or Parquet; one row per item): "" uses what the data
    carries (Online Retail: Description as text, UnitPrice as numeric), "none" uses none."""
    user_features: str = ""
    """User feature table (CSV, TSV or Parquet; one row per user); "" or "none": none."""
    item_feature_id: str = ""
    """The id column of the item feature table; "" finds item, item_id, ..., StockCode or id."""
    user_feature_id: str = ""
    """The id column of the user feature table; "" finds user, user_id, ..., CustomerID or id."""
    feature_types: str = ""
    """Kinds of feature columns, "col:kind,..." with kinds categorical, numeric, multi, text;
    unnamed columns are inferred (numbers: numeric; cells with multi_separator: multi; two
    words or more: text; else categorical)."""
    multi_separator: str = "|"
    """Separator of the values of a multi-valued feature cell (e.g. "red|blue")."""
    max_users: int = 0
    """Keep the first N users in order of appearance (0: all); small samples for tests."""
    seed: int = 0
    """Seed of the random split and of random leave-k-out."""


@dataclass
class EncoderOptions(MethodOptions):
    """The first options of every method's config: the embedding width and the selection of
    the best step on validation Recall@20."""

    embed_dim: int = 64
    """Width of the user and item embeddings (LightGCN, SELFRec: 64)."""
    eval_every: int = 0
    """Steps between validation measurements of Recall@20 (the best step is kept); 0: about
    20 measurements a run."""
    patience: int = 0
    """Stop training after this many validation measurements in a row without a new best
    (the best weights are kept); 0: train the whole budget."""


@dataclass
class GraphEncoderOptions(EncoderOptions):
    """The LightGCN encoder of He et al. 2020: id embeddings of users and items propagated
    ``num_layers`` times over the symmetrically normalised user-item graph.
    ``sslkit.recsys.encoders.build_encoder`` reads them."""

    num_layers: int = 3
    """Propagation layers (LightGCN: 3; SELFRec's SimGCL configs: 2)."""
    reg: float = 1e-4
    """L2 weight on the batch's ego embeddings (LightGCN's decay, 1e-4)."""


@dataclass
class LightGCNConfig(GraphEncoderOptions):
    pass


@dataclass
class ContrastOptions(GraphEncoderOptions):
    """What the contrastive methods add to LightGCN's BPR: ``cl_weight`` times InfoNCE over
    the batch's unique users and items."""

    cl_weight: float = 0.5
    """Weight of the contrastive loss (lambda; SimGCL 0.5 on Yelp2018 in SELFRec)."""
    temperature: float = 0.2
    """InfoNCE temperature (SGL, SimGCL, XSimGCL: 0.2)."""


@dataclass
class SimGCLConfig(ContrastOptions):
    eps: float = 0.1
    """Magnitude of the uniform noise added to every propagated layer (SimGCL's eps)."""


@dataclass
class XSimGCLConfig(ContrastOptions):
    cl_weight: float = 0.2
    """Weight of the cross-layer contrastive loss (XSimGCL's lambda, 0.2)."""
    eps: float = 0.2
    """Magnitude of the uniform noise (XSimGCL: 0.2)."""
    temperature: float = 0.15
    """InfoNCE temperature (SELFRec's conf/XSimGCL.yaml: tau 0.15)."""
    cl_layer: int = 1
    """The layer whose noisy output is contrasted with the final embedding (l*, 1)."""


@dataclass
class SGLConfig(ContrastOptions):
    cl_weight: float = 0.1
    """Weight of the contrastive loss (SGL's lambda_1, 0.1)."""
    drop_rate: float = 0.1
    """Share of training edges dropped in each view (SGL-ED's rho, 0.1)."""
    view_every: int = 0
    """Steps between new edge-dropout views (SGL draws them once an epoch); 0: one epoch."""


@dataclass
class TwoTowerConfig(EncoderOptions):
    """The two-tower model of Yao et al. 2021: user and item towers over ids and features,
    in-batch softmax with logQ correction, plus the SSL task over two correlated-feature-
    masking views of items."""

    embed_dim: int = 64
    """Width of the towers' outputs (the user and item embeddings, L2-normalised)."""
    feature_dim: int = 32
    """Width of each feature's embedding (the id is a feature too)."""
    hidden: int = 128
    """Hidden units of each tower's MLP (one ReLU layer)."""
    history: int = 50
    """The user tower also reads the user's last N training items (0: id and features only)."""
    temperature: float = 0.05
    """Temperature of the in-batch softmax over cosine scores (Yi et al. 2019: 0.05)."""
    logq: bool = True
    """Subtract log(item frequency) from each in-batch logit (the sampling-bias correction)."""
    ssl_weight: float = 0.3
    """Weight of the self-supervised loss (the paper's alpha); 0: the supervised two-tower."""
    ssl_temperature: float = 0.1
    """Temperature of the SSL InfoNCE between the two views of an item."""
    ssl_batch: int = 0
    """Items drawn uniformly from the training catalogue for the SSL task each step; 0: the
    batch size."""
    masking: Literal["correlated", "random"] = "correlated"
    """How features are split between the two views: correlated (CFM: a seed feature and the
    features with the highest mutual information with it masked in one view, the rest in the
    other) or random (RFM: a random half)."""
    value_dropout: float = 0.1
    """Share of the values of multi-valued and text features dropped in each SSL view."""
