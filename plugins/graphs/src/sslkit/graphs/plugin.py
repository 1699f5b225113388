"""The ``graphs`` plugin object (entry point ``graphs = "sslkit.graphs.plugin:plugin"``).

Light on purpose: no torch, no torch_geometric here; everything heavy is a ``"module:attr"``.
"""

from __future__ import annotations

from sslkit.core.plugin import (
    Baseline,
    DatasetSpec,
    MethodSpec,
    Plugin,
    Registry,
    TaskSpec,
    distribution_version,
)
from sslkit.graphs.configs import (
    BGRLConfig,
    DGIConfig,
    GRACEConfig,
    GraphCLConfig,
    GraphData,
    GraphMAEConfig,
    HypeBoyConfig,
    MVGRLConfig,
    TriCLConfig,
)

M = "sslkit.graphs.methods"

plugin = Plugin(
    name="graphs",
    version=distribution_version("sslkit-graphs"),
    summary="Graphs and hypergraphs on PyTorch Geometric: GRACE, DGI, MVGRL, BGRL, GraphMAE, "
    "GraphCL, HypeBoy, TriCL",
    data_config=GraphData,
    load_data="sslkit.graphs.data:load_data",
    from_memory="sslkit.graphs.data:from_memory",  # api.pretrain("graphs", data=pyg_data)
    methods=Registry(
        "method",
        [
            MethodSpec(
                "grace",
                GRACEConfig,
                f"{M}.grace:build",
                summary="node-level contrast between two corrupted views (edge dropping, "
                "feature masking)",
                paper="Zhu et al., Deep Graph Contrastive Representation Learning, 2020",
            ),
            MethodSpec(
                "dgi",
                DGIConfig,
                f"{M}.dgi:build",
                summary="local-global mutual information with a bilinear discriminator",
                paper="Veličković et al., Deep Graph Infomax, ICLR 2019",
            ),
            MethodSpec(
                "mvgrl",
                MVGRLConfig,
                f"{M}.mvgrl:build",
                summary="contrast between adjacency and PPR-diffusion views on sampled subgraphs",
                paper="Hassani & Khasahmadi, Contrastive Multi-View Representation Learning on "
                "Graphs, ICML 2020",
            ),
            MethodSpec(
                "bgrl",
                BGRLConfig,
                f"{M}.bgrl:build",
                summary="bootstrapping: online predictor regresses an EMA target, no negatives",
                paper="Thakoor et al., Large-Scale Representation Learning on Graphs via "
                "Bootstrapping, ICLR 2022",
            ),
            MethodSpec(
                "graphmae",
                GraphMAEConfig,
                f"{M}.graphmae:build",
                summary="masked feature reconstruction with a GNN decoder and scaled cosine error",
                paper="Hou et al., GraphMAE: Self-Supervised Masked Graph Autoencoders, KDD 2022",
            ),
            MethodSpec(
                "graphcl",
                GraphCLConfig,
                f"{M}.graphcl:build",
                summary="graph-level contrast between augmented graphs (graph-classification data)",
                paper="You et al., Graph Contrastive Learning with Augmentations, NeurIPS 2020",
            ),
            MethodSpec(
                "hypeboy",
                HypeBoyConfig,
                f"{M}.hypeboy:build",
                summary="hypergraphs: feature-reconstruction warm-up, then hyperedge filling",
                paper="Kim et al., HypeBoy: Generative Self-Supervised Representation Learning "
                "on Hypergraphs, ICLR 2024",
            ),
            MethodSpec(
                "tricl",
                TriCLConfig,
                f"{M}.tricl:build",
                summary="hypergraphs: node, group and membership contrast",
                paper="Lee & Shin, I'm Me, We're Us, and I'm Us: Tri-directional Contrastive "
                "Learning on Hypergraphs, AAAI 2023",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "cora",
                summary="Planetoid Cora citation graph with the public split (140/500/1000), "
                "embedded default",
                source="kimiyoung/planetoid @af6abf46 : data/ind.cora.*",
                license="MIT",
                rows="2,708 nodes, 5,278 edges, 1,433 features, 7 classes",
            ),
            DatasetSpec(
                "cocitation-cora",
                summary="co-citation Cora hypergraph with 10 given splits (HyperGCN benchmark)",
                source="malllabiisc/HyperGCN @de049387 : data/cocitation/cora/",
                license="Apache-2.0",
                rows="2,708 nodes, 1,579 hyperedges, 7 classes",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "node_classification",
                "sslkit.graphs.tasks:node_classification",
                summary="logistic probe on frozen node embeddings: the public split and 20 "
                "random 10/10/80 splits (mean, std); hypergraphs: the given splits",
                probe="sslkit.graphs.tasks:GRAPHS_PROBE",
                baseline=Baseline(
                    "the raw node features", "sslkit.graphs.baselines:raw_node_features"
                ),
            ),
            TaskSpec(
                "link_prediction",
                "sslkit.graphs.tasks:link_prediction",
                summary="ROC-AUC of held-out edges against sampled non-edges "
                "(pretrain with data.holdout_edges > 0)",
                needs_labels=False,
            ),
            TaskSpec(
                "graph_classification",
                "sslkit.graphs.tasks:graph_classification",
                summary="graph-level data: SVM on pooled embeddings, 10-fold cross-validation",
            ),
        ],
    ),
    default_method="grace",
    default_task="node_classification",
    presets="sslkit.graphs.presets",
)
