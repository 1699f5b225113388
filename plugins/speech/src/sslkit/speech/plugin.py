"""The sslkit-speech plugin object (light: no torch, no soundfile at import)."""

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
from sslkit.speech.configs import (
    BestRQConfig,
    Data2VecConfig,
    DinoSRConfig,
    HuBERTConfig,
    SpeakerConfig,
    SpeechData,
)

plugin = Plugin(
    name="speech",
    version=distribution_version("sslkit-speech"),
    summary="Speech and audio (wav/flac/ogg folders, CSV manifests): HuBERT, BEST-RQ, data2vec, "
    "DinoSR, speaker contrastive; SUPERB-style evaluation",
    data_config=SpeechData,
    load_data="sslkit.speech.data:load_data",
    methods=Registry(
        "method",
        [
            MethodSpec(
                "hubert",
                HuBERTConfig,
                "sslkit.speech.methods.hubert:build",
                summary="masked prediction of k-means units (MFCC, then a layer of the previous "
                "iteration)",
                paper="Hsu et al., HuBERT: Self-Supervised Speech Representation Learning by "
                "Masked Prediction of Hidden Units, TASLP 2021",
            ),
            MethodSpec(
                "bestrq",
                BestRQConfig,
                "sslkit.speech.methods.bestrq:build",
                summary="masked prediction of random-projection quantizer codes of filterbanks",
                paper="Chiu et al., Self-supervised Learning with Random-projection Quantizer "
                "for Speech Recognition, ICML 2022",
            ),
            MethodSpec(
                "data2vec",
                Data2VecConfig,
                "sslkit.speech.methods.data2vec:build",
                summary="regress the EMA teacher's averaged top-k layers at masked frames",
                paper="Baevski et al., data2vec: A General Framework for Self-supervised "
                "Learning in Speech, Vision and Language, ICML 2022",
            ),
            MethodSpec(
                "dinosr",
                DinoSRConfig,
                "sslkit.speech.methods.dinosr:build",
                summary="predict online-clustered codewords of the EMA teacher's top layers",
                paper="Liu et al., DinoSR: Self-Distillation and Online Clustering for "
                "Self-supervised Speech Representation Learning, NeurIPS 2023",
            ),
            MethodSpec(
                "speaker",
                SpeakerConfig,
                "sslkit.speech.methods.speaker:build",
                summary="two crops of one utterance are positives; additive-margin InfoNCE",
                paper="Xia et al., Self-supervised Text-independent Speaker Verification using "
                "Prototypical Momentum Contrastive Learning, ICASSP 2021 (AM-InfoNCE)",
            ),
        ],
    ),
    datasets=Registry(
        "data set",
        [
            DatasetSpec(
                "fsdd",
                summary="Free Spoken Digit Dataset, takes 0-19 (6 speakers x 10 digits); "
                "labels: digit and speaker; test = takes 0-4, dev = takes 5-9",
                source="Jakobovski/free-spoken-digit-dataset v1.0.10 recordings/",
                license="CC BY-SA 4.0",
                rows="1,200 recordings",
            ),
        ],
    ),
    tasks=Registry(
        "task",
        [
            TaskSpec(
                "superb",
                "sslkit.speech.tasks:superb",
                summary="SUPERB protocol on frozen layers (softmax layer weights, mean pooling, "
                "linear head, dev selection): label and speaker accuracy, speaker verification "
                "EER/minDCF, beside MFCC and log-mel floors and the untrained encoder",
                probe="sslkit.speech.tasks:SPEECH_PROBE",
                baseline=Baseline("mean-pooled MFCCs", "sslkit.speech.baselines:mfcc"),
            ),
        ],
    ),
    default_method="bestrq",
    default_task="superb",
    presets="sslkit.speech.presets",
)
