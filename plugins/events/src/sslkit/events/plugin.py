"""The sslkit-events plugin object (light: no torch, no pandas at import)."""

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
from sslkit.events.configs import CoLESConfig, CPCConfig, EventsData, MEMConfig

plugin = Plugin(
    name="events",
    version=distribution_version("sslkit-events"),
    summary="Event sequences (transactions, purchases, logs): CoLES, masked event modeling, CPC",
    data_config=EventsData,
    load_data="sslkit.events.data:load_data",
    from_memory="sslkit.events.data:from_memory",  # api.pretrain("events", data=events_df)
    methods=Registry(
        "method",
        [
            MethodSpec(
                "coles",
                CoLESConfig,
                "sslkit.events.methods.coles:build",
                summary="random slices of a history are positives; margin loss with hard negatives",
                paper="Babaev et al., CoLES: Contrastive Learning for Event Sequences with "
                "Self-Supervision, SIGMOD 2022",
            ),
            MethodSpec(
                "mem",
                MEMConfig,
                "sslkit.events.methods.mem:build",
                summary="masked event modeling: hide events or fields and predict them",
                paper="Devlin et al., BERT, NAACL 2019; Padhi et al., TabBERT, ICASSP 2021",
            ),
            MethodSpec(
                "cpc",
                CPCConfig,
                "sslkit.events.methods.cpc:build",
                summary="contrastive predictive coding of future events",
                paper="van den Oord et al., Representation Learning with Contrastive "
                "Predictive Coding, 2018",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "online-retail",
                summary="UCI Online Retail, 40,000-line sample (3,621 customers); label: buys "
                "again on or after 2011-09-01 (only earlier events are used)",
                source="UCI Machine Learning Repository, Online Retail (Chen, 2015)",
                license="CC BY 4.0",
                rows="40,000 events",
            ),
            DatasetSpec(
                "age-group",
                summary="100 bank clients of the Age-group data set used by CoLES, with age bins",
                source="dllllb/pytorch-lifestream ptls_tests/age-*.csv",
                license="Apache-2.0",
                rows="1,000 events",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "entity",
                "sslkit.events.tasks:entity",
                summary="entity label from frozen embeddings vs hand-crafted aggregates "
                "(logistic probe and HistGradientBoosting)",
                probe="sslkit.events.tasks:EVENTS_PROBE",
                baseline=Baseline(
                    "the hand-crafted aggregates",
                    "sslkit.events.baselines:aggregates",
                    boosting=True,
                ),
            )
        ],
    ),
    default_method="coles",
    default_task="entity",
    presets="sslkit.events.presets",
)
