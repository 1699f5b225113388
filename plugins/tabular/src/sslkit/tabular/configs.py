"""Config dataclasses of the tabular plugin (no torch here: ``sslkit plugins`` imports this).

``TabularData`` is the ``[data]`` section; ``TJEPAConfig``, ``SCARFConfig`` and ``VIMEConfig``
are the ``[method]`` sections. Every method shares the encoder options of :class:`EncoderOptions`
(``--set encoder=ft_transformer|mlp|resnet``), and core's method options
(:class:`sslkit.core.method_config.MethodOptions`: ``matryoshka_dims``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sslkit.core.method_config import MethodOptions


@dataclass
class TabularData:
    """Where the table comes from and how it is preprocessed (``[data]``)."""

    path: str = ""
    """A CSV (.csv, .csv.gz, .tsv) or Parquet file, a registered data set name (adult), or ""
    for the embedded Adult census data."""
    target: str = ""
    """Column to predict in evaluation; kept out of pretraining ("" = none; the embedded Adult
    data sets it to incomes)."""
    test_path: str = ""
    """Optional separate test file; without it a seeded split of ``path`` is held out."""
    test_fraction: float = 0.2
    """Share of rows held out as the test split when there is no ``test_path``."""
    split_seed: int = 0
    """Seed of the train/test split of a single file."""
    id_column: str = ""
    """Column that names rows (kept as the ids of exported embeddings, never a feature)."""
    exclude: tuple[str, ...] = ()
    """Columns to leave out of the features (comma-separated)."""
    categorical: tuple[str, ...] = ()
    """Columns to treat as categorical even when they hold numbers (comma-separated)."""
    max_rows: int = 0
    """Read only the first N rows of each file (0: all)."""
    scaling: Literal["quantile", "standard"] = "quantile"
    """Numeric scaling: quantile (to a normal distribution, robust to outliers) or standard."""
    max_categories: int = 256
    """Keep the most frequent values of a categorical column; rarer ones go to the unknown
    bucket."""
    min_category_count: int = 1
    """Values seen fewer times than this when fitting go to the unknown bucket."""
    task: Literal["auto", "classification", "regression"] = "auto"
    """What evaluation fits on the target: auto (text, bool or few integer values:
    classification), classification or regression."""
    stream: Literal["auto", "memory", "stream"] = "auto"
    """Stream Parquet in batches instead of loading it (auto: when larger than
    stream_threshold_mb)."""
    stream_threshold_mb: int = 1024
    """Parquet files larger than this are streamed when stream = auto."""
    fit_rows: int = 200_000
    """Rows read to fit the preprocessing of streamed data."""


@dataclass
class EncoderOptions(MethodOptions):
    """Backbone options shared by every tabular method (Gorishniy et al. 2021), on core's
    method options (``matryoshka_dims``, applied by core to every method)."""

    encoder: Literal["ft_transformer", "mlp", "resnet"] = "ft_transformer"
    """Backbone: ft_transformer (feature tokenizer + Transformer), mlp or resnet."""
    d_token: int = 64
    """Width of each feature token (FT-Transformer; also the per-feature embedding width of the
    MLP and ResNet inputs for categorical columns)."""
    n_layers: int = 2
    """Transformer blocks (ft_transformer) or hidden layers/blocks (mlp, resnet)."""
    n_heads: int = 4
    """Attention heads of each Transformer block (d_token must be a multiple)."""
    ffn_dim: int = 128
    """Feed-forward width inside each Transformer block."""
    hidden_dim: int = 256
    """Width of the MLP and ResNet encoders."""
    out_dim: int = 128
    """Embedding size of the MLP and ResNet encoders."""
    dropout: float = 0.0
    """Dropout inside the encoder (attention and feed-forward, or after each hidden layer)."""
    num_embedding: Literal["linear", "periodic"] = "linear"
    """How a numeric value becomes a vector: linear (``x w + b``) or periodic (PLR: learned
    sin/cos frequencies, then a linear map and ReLU; Gorishniy et al. 2022)."""
    num_frequencies: int = 16
    """Frequencies per numeric feature of the periodic embedding."""
    frequency_sigma: float = 1.0
    """Standard deviation of the periodic embedding's initial frequencies (the scale of
    variation it starts with, in units of the scaled numeric value)."""
    matryoshka_dims: tuple[int, ...] = ()
    """Also train nested prefixes of the embedding (Matryoshka, core's option: every head
    reading the embedding gets one copy per size, the losses are averaged); for T-JEPA's
    FT-Transformer these are per-token widths (each <= d_token), otherwise embedding sizes
    (each <= out_dim)."""


@dataclass
class TJEPAConfig(EncoderOptions):
    """T-JEPA (Thimonier et al., ICLR 2025): predict the EMA target encoder's latents of some
    feature subsets from a context encoder that sees another subset."""

    n_reg_tokens: int = 2
    """Regularisation tokens appended to every encoder input (the paper's collapse remedy)."""
    min_context_share: float = 0.15
    max_context_share: float = 0.5
    min_target_share: float = 0.15
    max_target_share: float = 0.5
    n_targets: int = 4
    """Target feature subsets predicted per row (the paper's num_preds)."""
    allow_overlap: bool = False
    """Let target subsets overlap the context subset."""
    pred_dim: int = 32
    """Width of the Transformer predictor."""
    pred_layers: int = 2
    """Transformer blocks of the predictor."""
    pred_heads: int = 4
    """Attention heads of the predictor (one when pred_dim is not a multiple)."""
    ema_start: float = 0.996
    """EMA momentum of the target encoder at the first step, raised to ema_end on a cosine
    schedule."""
    ema_end: float = 1.0
    pooling: Literal["flatten", "mean"] = "flatten"
    """Embedding of a row: the target encoder's output tokens flattened (the paper's
    downstream input) or the feature tokens averaged."""
    embed_reg_tokens: bool = True
    """Keep the regularisation tokens' outputs in the flattened embedding (the reference code
    gives its downstream models every output token, its [CLS]/regularisation token included).
    Measured on a validation fifth of adult.data, logistic probe, seeds 0/1: 0.8589/0.8578 with
    them, 0.8564/0.8580 without (within noise)."""


@dataclass
class SCARFConfig(EncoderOptions):
    """SCARF (Bahri et al., ICLR 2022): corrupt a fraction of features by resampling them from
    their empirical marginals; InfoNCE between a row and its corruption."""

    encoder: Literal["ft_transformer", "mlp", "resnet"] = "mlp"
    corruption_rate: float = 0.6
    """Fraction of features replaced in each row (exactly round(rate x features))."""
    temperature: float = 1.0
    head_dim: int = 128
    head_layers: int = 2


@dataclass
class VIMEConfig(EncoderOptions):
    """VIME self-supervised (Yoon et al., NeurIPS 2020): mask estimation + feature
    reconstruction from a corrupted row."""

    encoder: Literal["ft_transformer", "mlp", "resnet"] = "mlp"
    mask_prob: float = 0.3
    """Probability that a feature is replaced by a draw from its marginal."""
    alpha: float = 2.0
    """Weight of the feature-reconstruction loss against mask estimation."""
