"""Both front ends (filterbanks + subsampling, wav2vec 2.0 convolutions) train, and their
declared encoder rebuilds from its spec and embeds as ``embed`` does; hidden states come per
layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslkit.speech.configs import HuBERTConfig, SpeakerConfig
from sslkit.speech.data import pad_waves
from sslkit.testing import check_encoder_spec

INFO = {"sample_rate": 16000, "crop": 8000}


def _inputs() -> dict:
    g = np.random.default_rng(0)
    return pad_waves([g.normal(size=n).astype(np.float32) * 0.1 for n in (5000, 8000, 3300)])


@pytest.mark.parametrize("frontend", ["fbank", "conv"])
def test_front_ends_train_and_export(frontend: str) -> None:
    from sslkit.speech.methods.speaker import SpeakerContrastive

    torch.manual_seed(0)
    cfg = SpeakerConfig(frontend=frontend, dim=32, layers=2, heads=2, n_mels=40)
    m = SpeakerContrastive(cfg, INFO)
    x = _inputs()
    hidden, valid = m.hidden_states(x)
    assert len(hidden) == 3 and hidden[0].shape[-1] == 32
    frames = valid.sum(1).tolist()
    assert frames[1] > frames[0] > frames[2]  # valid frames follow the lengths
    views = {
        "wave": torch.stack([x["wave"], x["wave"].roll(400, 1)], 1),
        "lengths": torch.stack([x["lengths"], x["lengths"]], 1),
    }
    loss = m.training_step(views, 0)["loss"]
    loss.backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    spec = check_encoder_spec(m, x)
    assert spec["kwargs"]["frontend"] == frontend


def test_padding_does_not_change_an_utterance_embedding() -> None:
    from sslkit.speech.methods.hubert import HuBERT
    from sslkit.speech.methods.targets import KMeansTargets, MFCCFeatures

    torch.manual_seed(0)
    cfg = HuBERTConfig(dim=32, layers=2, heads=2, n_mels=40, clusters=4)
    m = HuBERT(cfg, INFO, KMeansTargets(MFCCFeatures(16000, 320), 4, 39)).eval()
    x = _inputs()
    alone = pad_waves([x["wave"][2, :3300].numpy()])
    with torch.no_grad():
        torch.testing.assert_close(m.embed(x)[2], m.embed(alone)[0], rtol=1e-4, atol=1e-4)
