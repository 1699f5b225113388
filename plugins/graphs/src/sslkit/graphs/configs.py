"""Config dataclasses of the graphs plugin: ``[data]`` and one ``[method]`` class per method.

Plain dataclasses, no torch: ``sslkit plugins`` and ``--help`` read them without importing any
heavy library. The attribute docstring under a field is its ``--help`` text. Defaults are the
settings of each paper for Cora; the shipped ``presets/<method>/default.toml`` also sets the
paper's ``[train]`` values (epochs, learning rate). Every method's config is built on
:class:`EncoderOptions` (``sslkit.graphs.encoders.build_encoder`` reads them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from sslkit.core.method_config import MethodOptions

Encoder = Literal["gcn", "gat", "gin", "sage"]
Activation = Literal["relu", "prelu", "elu"]
HyperEncoderName = Literal["hgnn", "set", "unigcnii"]


@dataclass
class GraphData:
    """``[data]``: where the graph comes from and how it is prepared."""

    path: str = ""
    """A file or folder (edge-list CSV, Planetoid raw folder, hypergraph folder), a data set
    name (cora, cocitation-cora), pyg:Class:root[:name] for a PyG data set on disk, or "" for
    the embedded Cora."""
    features: str = ""
    """Node features for an edge-list CSV: a CSV (one row a node; an optional `id` column names
    the nodes) or an NPZ (array `x`, or a scipy sparse matrix)."""
    labels: str = ""
    """Optional node labels for an edge-list CSV: a CSV with one label a row, or `id,label`."""
    undirected: bool = True
    """Add the reverse of every edge (message passing in both directions)."""
    normalize: Literal["row", "standard", "none"] = "row"
    """Node feature preprocessing: row (each row sums to 1, as DGI/GRACE/GraphMAE on Cora),
    standard (z-score per column, fitted once and saved with the run) or none."""
    batching: Literal["auto", "full", "minibatch"] = "auto"
    """full: one step per epoch on the whole graph; minibatch: neighbour-sampled subgraphs of
    train.batch_size seed nodes; auto: full unless the graph exceeds the two limits below."""
    max_full_batch_nodes: int = 20000
    max_full_batch_edges: int = 1000000
    num_neighbors: tuple[int, ...] = (10, 10)
    """Neighbours sampled per hop in mini-batch mode (one number per GNN layer)."""
    sampler: Literal["auto", "pyg", "builtin"] = "auto"
    """Mini-batch sampler: PyG's NeighborLoader (needs pyg-lib or torch-sparse), the built-in
    pure-torch sampler, or auto (PyG's when available)."""
    holdout_edges: float = 0.0
    """Fraction of edges removed before pretraining and kept for the link_prediction task."""
    split_seed: int = 0
    """Seed of the held-out edges and of the random node-classification splits."""
    trust_pickle: bool = False
    """Planetoid raw files are Python pickles: set true to read a Planetoid folder you trust
    (the embedded Cora is checked against known hashes and needs no flag)."""


@dataclass
class EncoderOptions(MethodOptions):
    """The encoder of a method: its kind (``encoder``), embedding size (``hidden_dim``) and
    depth (``num_layers``), the first options of every method's config, each built on it.

    A method's config declares a field again to change its default or its type (hypergraph
    kinds); declared again below one of its own options, the field is listed there in
    ``--help`` (TriCL: ``proj_dim``, then ``num_layers``; see
    ``sslkit.core.config_help.field_order``). Declared as a ``ClassVar``, it is no option of that
    method but a value the method fixes (MVGRL's views are one-layer GCNs) or derives from its
    options (BGRL's per-layer widths ``hidden_dims``). Public: another plugin's config may
    extend it and pass it to ``sslkit.graphs.encoders.build_encoder``, which also reads the
    optional fields ``activation``, ``num_heads``, ``in_drop``, ``attn_drop``, ``dropout`` and
    ``edge_dim`` where a config has them."""

    encoder: Encoder = "gcn"
    hidden_dim: int = 512
    num_layers: int = 2


@dataclass
class GRACEConfig(EncoderOptions):
    """GRACE (Zhu et al. 2020, "Deep Graph Contrastive Representation Learning"), Cora values."""

    hidden_dim: int = 128
    """Embedding size; hidden layers are twice as wide (as in the paper's code)."""
    activation: Activation = "relu"
    proj_dim: int = 128
    tau: float = 0.4
    drop_edge_1: float = 0.2
    drop_edge_2: float = 0.4
    drop_feature_1: float = 0.3
    drop_feature_2: float = 0.4
    l2: float = 1e-5
    """Coupled L2 penalty, the paper's Adam weight_decay (keep train.weight_decay = 0)."""


@dataclass
class DGIConfig(EncoderOptions):
    """DGI (Veličković et al. 2019, "Deep Graph Infomax"), Cora values."""

    num_layers: int = 1
    activation: Activation = "prelu"
    l2: float = 0.0


@dataclass
class MVGRLConfig(EncoderOptions):
    """MVGRL (Hassani & Khasahmadi 2020, "Contrastive Multi-View Representation Learning on
    Graphs"), node-level, Cora values."""

    encoder: ClassVar[Encoder] = "gcn"
    num_layers: ClassVar[int] = 1
    """Fixed, not options: both views (adjacency, diffusion) are one GCN layer."""
    alpha: float = 0.2
    """Teleport probability of the personalized-PageRank diffusion."""
    sample_size: int = 2000
    """Nodes per sampled subgraph."""
    subgraphs: int = 4
    """Subgraphs per step (the paper's batch size)."""
    ppr_topk: int = 0
    """Keep the k largest diffusion entries per node (0: the exact dense matrix, for graphs up
    to dense_limit nodes; larger graphs always use top-k, 128 when 0)."""
    dense_limit: int = 5000
    l2: float = 0.0


@dataclass
class BGRLConfig(EncoderOptions):
    """BGRL (Thakoor et al. 2022, "Large-Scale Representation Learning on Graphs via
    Bootstrapping")."""

    hidden_dims: tuple[int, ...] = (512, 256)
    """Widths of the encoder's layers (the last is the embedding size)."""
    hidden_dim: ClassVar = property(lambda self: self.hidden_dims[-1])
    num_layers: ClassVar = property(lambda self: len(self.hidden_dims))
    """Read from ``hidden_dims``, not options."""
    predictor_dim: int = 512
    drop_edge_1: float = 0.2
    drop_edge_2: float = 0.3
    drop_feature_1: float = 0.2
    drop_feature_2: float = 0.1
    base_momentum: float = 0.99
    """EMA decay of the target encoder, raised to 1 on a cosine schedule."""
    batchnorm_momentum: float = 0.99
    """Weight of the newest batch in the encoder's BatchNorm running statistics (PyTorch's
    ``momentum``; the paper's code passes 0.99, so evaluation normalises with the statistics
    of the last training steps). 0.01 cost 1.2 points of Cora validation accuracy (seed 0,
    augmentation rates 0.4)."""
    l2: float = 1e-5


@dataclass
class GraphMAEConfig(EncoderOptions):
    """GraphMAE (Hou et al. 2022, "GraphMAE: Self-Supervised Masked Graph Autoencoders"),
    Cora values."""

    encoder: Encoder = "gat"
    num_heads: int = 4
    num_out_heads: int = 1
    activation: Activation = "prelu"
    in_drop: float = 0.2
    attn_drop: float = 0.1
    mask_rate: float = 0.5
    replace_rate: float = 0.05
    alpha: float = 3.0
    """Exponent of the scaled cosine error."""
    drop_edge: float = 0.0
    l2: float = 2e-4


@dataclass
class GraphCLConfig(EncoderOptions):
    """GraphCL (You et al. 2020, "Graph Contrastive Learning with Augmentations"), graph level,
    values of the unsupervised TU experiments."""

    encoder: Encoder = "gin"
    hidden_dim: int = 32
    num_layers: int = 3
    aug_1: Literal["drop_nodes", "drop_edges", "mask_features", "subgraph", "none"] = "drop_nodes"
    aug_2: Literal["drop_nodes", "drop_edges", "mask_features", "subgraph", "none"] = "subgraph"
    aug_ratio: float = 0.2
    tau: float = 0.2
    pooling: Literal["sum", "mean", "max"] = "sum"


@dataclass
class HypeBoyConfig(EncoderOptions):
    """HypeBoy (Kim et al. 2024, "HypeBoy: Generative Self-Supervised Representation Learning
    on Hypergraphs"): feature-reconstruction warm-up, then hyperedge filling."""

    encoder: HyperEncoderName = "unigcnii"
    hidden_dim: int = 128
    dropout: float = 0.5
    warmup_epochs: int = 300
    """Epochs of the feature-reconstruction warm-up before hyperedge filling starts."""
    warmup_mask_rate: float = 0.5
    """Fraction of nodes whose features are masked in the warm-up."""
    warmup_drop_hyperedge: float = 0.2
    mask_feature: float = 0.4
    """Feature-masking probability (per entry) during hyperedge filling."""
    drop_hyperedge: float = 0.9
    """Hyperedge-dropping probability during hyperedge filling."""
    l2: float = 1e-6


@dataclass
class TriCLConfig(EncoderOptions):
    """TriCL (Lee & Shin 2023, "I'm Me, We're Us, and I'm Us: Tri-directional Contrastive
    Learning on Hypergraphs"): node, group and membership contrast; Cora co-citation values."""

    encoder: HyperEncoderName = "set"
    proj_dim: int = 512
    num_layers: int = 1
    drop_feature: float = 0.4
    drop_membership: float = 0.4
    tau_node: float = 0.5
    tau_group: float = 0.5
    tau_membership: float = 1.0
    weight_group: float = 4.0
    weight_membership: float = 1.0
