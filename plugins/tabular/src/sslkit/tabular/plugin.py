"""The tabular plugin object (entry point ``tabular``). Light: no torch, no pandas here."""

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
from sslkit.tabular.configs import SCARFConfig, TabularData, TJEPAConfig, VIMEConfig

plugin = Plugin(
    name="tabular",
    version=distribution_version("sslkit-tabular"),
    summary="Tables (CSV, Parquet, DataFrames): T-JEPA, SCARF, VIME",
    data_config=TabularData,
    load_data="sslkit.tabular.data:load_data",
    from_memory="sslkit.tabular.data:from_memory",  # api.pretrain("tabular", data=df)
    methods=Registry(
        "method",
        [
            MethodSpec(
                "tjepa",
                TJEPAConfig,
                "sslkit.tabular.methods.tjepa:build",
                summary="predict EMA-encoder latents of feature subsets from a context subset",
                paper="Thimonier et al., T-JEPA: Augmentation-Free Self-Supervised Learning for Tabular Data, ICLR 2025",
            ),
            MethodSpec(
                "scarf",
                SCARFConfig,
                "sslkit.tabular.methods.scarf:build",
                summary="contrast a row with a copy whose features are resampled from marginals",
                paper="Bahri et al., SCARF: Self-Supervised Contrastive Learning using Random Feature Corruption, ICLR 2022",
            ),
            MethodSpec(
                "vime",
                VIMEConfig,
                "sslkit.tabular.methods.vime:build",
                summary="estimate the corruption mask and reconstruct the features",
                paper="Yoon et al., VIME: Extending the Success of Self- and Semi-supervised Learning to Tabular Domain, NeurIPS 2020",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "adult",
                summary="UCI Adult census income; target incomes (>50K); the embedded default",
                source="UCI Machine Learning Repository (Kohavi & Becker 1996), train/test files",
                license="CC BY 4.0",
                rows="32,561 train + 16,281 test",
            )
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "probe",
                "sslkit.tabular.tasks:probe",
                summary="logistic / ridge probe on standardised frozen embeddings",
                probe="sslkit.tabular.tasks:TABULAR_PROBE",
                baseline=Baseline(
                    "the raw columns", "sslkit.tabular.baselines:raw_columns", boosting=True
                ),
            ),
            TaskSpec(
                "linear-probe",
                "sslkit.tabular.tasks:probe",
                summary="the tabular probe (TABULAR_PROBE) in place of core's linear-probe, "
                "fitted once for both names",
            ),
            TaskSpec(
                "mlp",
                "sslkit.tabular.tasks:mlp",
                summary="small MLP head on frozen embeddings",
                on_request=True,
            ),
            TaskSpec(
                "tjepa-protocol",
                "sslkit.tabular.tasks:tjepa_protocol",
                summary="the T-JEPA paper's protocol: one MLP on raw features, embeddings, both",
                on_request=True,
            ),
        ],
    ),
    default_method="vime",
    default_task="probe",
    presets="sslkit.tabular.presets",
)
