"""The ``recsys`` plugin object (entry point ``recsys = "sslkit.recsys.plugin:plugin"``).

Light on purpose: no torch here; everything heavy is a ``"module:attr"`` string.
"""

from __future__ import annotations

from sslkit.core.plugin import (
    DatasetSpec,
    MethodSpec,
    Plugin,
    Registry,
    TaskSpec,
    distribution_version,
)
from sslkit.recsys.configs import (
    LightGCNConfig,
    RecsysData,
    SGLConfig,
    SimGCLConfig,
    TwoTowerConfig,
    XSimGCLConfig,
)

M = "sslkit.recsys.methods"

plugin = Plugin(
    name="recsys",
    version=distribution_version("sslkit-recsys"),
    summary="Recommendation on user-item interactions: LightGCN, SGL, SimGCL, XSimGCL, "
    "two-tower SSL (user and item embeddings, all-rank Recall@K, FAISS export)",
    data_config=RecsysData,
    load_data="sslkit.recsys.data:load_data",
    from_memory="sslkit.recsys.data:from_memory",  # api.pretrain("recsys", data=dataframe)
    methods=Registry(
        "method",
        [
            MethodSpec(
                "simgcl",
                SimGCLConfig,
                f"{M}.simgcl:build",
                summary="LightGCN + InfoNCE between two propagations with uniform noise",
                paper="Yu et al., Are Graph Augmentations Necessary? Simple Graph Contrastive "
                "Learning for Recommendation, SIGIR 2022",
            ),
            MethodSpec(
                "xsimgcl",
                XSimGCLConfig,
                f"{M}.xsimgcl:build",
                summary="one noisy propagation: InfoNCE between a middle layer and the final "
                "embedding",
                paper="Yu et al., XSimGCL: Towards Extremely Simple Graph Contrastive Learning "
                "for Recommendation, TKDE 2023",
            ),
            MethodSpec(
                "sgl",
                SGLConfig,
                f"{M}.sgl:build",
                summary="LightGCN + InfoNCE between two edge-dropout views of the graph",
                paper="Wu et al., Self-supervised Graph Learning for Recommendation, SIGIR 2021",
            ),
            MethodSpec(
                "twotower",
                TwoTowerConfig,
                f"{M}.twotower:build",
                summary="user and item towers over ids and features: in-batch softmax with "
                "logQ correction + InfoNCE between correlated-feature-masking views of items",
                paper="Yao et al., Self-supervised Learning for Large-scale Item "
                "Recommendations, CIKM 2021",
            ),
            MethodSpec(
                "lightgcn",
                LightGCNConfig,
                f"{M}.lightgcn:build",
                summary="the supervised baseline: BPR on layer-mean propagated id embeddings",
                paper="He et al., LightGCN: Simplifying and Powering Graph Convolution Network "
                "for Recommendation, SIGIR 2020",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "online-retail",
                summary="UCI Online Retail (40,000-row sample) as customer x product purchases, "
                "split per customer by time; embedded default (read from sslkit-events' copy, "
                "else the smaller sample below)",
                source="moatazsaad/Market-Basket-Analysis @2e55484a : Online Retail.xlsx "
                "(UCI, Daqing Chen 2015)",
                license="CC BY 4.0",
                rows="3,591 customers, 2,871 products, 27,684 purchases",
            ),
            DatasetSpec(
                "online-retail-sample",
                summary="the purchases of 800 customers of the same sample, shipped in the wheel",
                source="moatazsaad/Market-Basket-Analysis @2e55484a : Online Retail.xlsx",
                license="CC BY 4.0",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "recommend",
                "sslkit.recsys.tasks:recommend",
                summary="all-rank Recall@K and NDCG@K (K = 10, 20, 40), training items masked, "
                "beside item popularity and the untrained control; coverage and popularity "
                "bias of the top 20",
                needs_labels=False,
            ),
        ],
    ),
    default_method="xsimgcl",
    default_task="recommend",
    presets="sslkit.recsys.presets",
)
