"""Downstream tasks on frozen features, the SUPERB way (:mod:`sslkit.speech.superb`).

``superb``: for the label (FSDD: the spoken digit) and the speaker, a SUPERB head (softmax
weights over every layer, mean pooling, linear maps; selected on the dev split) on the
pretrained encoder, on the same encoder untrained, and on mean-pooled MFCCs and log-mel
filterbanks (the floors); speaker verification EER/minDCF on every pair of test utterances.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.evaluate.logistic import ProbeProtocol
from sslkit.speech.superb import Floor, pooled_layers, standardise, train_head, verification

SPEECH_PROBE = ProbeProtocol(
    cs=(1e-2, 1e-1, 1.0, 10.0), select="val", standardise=True, max_iter=2000
)
"""The logistic probe of core's "did pretraining pay?" (C chosen on the dev split)."""


def features(ctx: Any, source: str) -> dict[str, np.ndarray]:
    """``(layers, N, D)`` mean-pooled features of every split for ``source``: "pretrained",
    "untrained", "mfcc" or "logmel"."""
    data, device = ctx.data, ctx.device

    def compute() -> dict[str, np.ndarray]:
        if source in ("mfcc", "logmel"):
            module = Floor(source, int(data.info["sample_rate"])).to(device)
            fn = module
        else:
            if source == "untrained":
                from sslkit.core.evaluate.control import untrained_method

                method = untrained_method(ctx.config, data, device)
            else:
                method = ctx.method
            method.eval()
            fn = method.hidden_states
        batch = min(int(ctx.batch_size), 64)
        return {
            s: pooled_layers(fn, data.eval_batches(s, batch), device) for s in data.split_names()
        }

    return ctx.once(f"speech-features:{source}", compute)


def _targets(data: Any, kind: str) -> dict[str, np.ndarray] | None:
    y = {s: data.target(kind, data.split_index(s)) for s in data.split_names()}
    if any(v is None for v in y.values()) or "train" not in y or not (y["train"] >= 0).any():
        return None
    return y


def superb(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    kinds = [k for k in ("label", "speaker") if _targets(data, k) is not None]
    out: dict[str, Any] = {}
    for source in ("pretrained", "untrained", "mfcc", "logmel"):
        feats = standardise(features(ctx, source))
        suffix = "" if source == "pretrained" else f"_{source}"
        for kind in kinds:
            r = train_head(feats, _targets(data, kind), seed=ctx.seed)
            if "test_accuracy" in r:
                out[f"{kind}_accuracy{suffix}"] = r["test_accuracy"]
            out[f"{kind}_dev_accuracy{suffix}"] = r["dev_accuracy"]
            if source == "pretrained":
                out[f"{kind}_layer_weights"] = " ".join(f"{w:.2f}" for w in r["layer_weights"])
        speakers = _targets(data, "speaker")
        if speakers is not None and "test" in feats:
            # the utterance embedding: the average of the (standardised) layers
            sv = verification(feats["train"].mean(0), feats["test"].mean(0), speakers["test"])
            out[f"sv_eer{suffix}"] = sv["eer"]
            out[f"sv_min_dcf{suffix}"] = sv["min_dcf"]
            out["sv_trials"] = sv["trials"]
    return out
