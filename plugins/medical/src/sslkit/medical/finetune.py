"""Fine-tuning: the encoder and a linear head trained end to end with the labels, beside the same
network trained from scratch (the field's plain baseline: MedMNIST v2 trains ResNets from
scratch with all labels).

Protocol (MedMNIST v2's, shortened for CPU): cross-entropy (binary and multi-class) or
binary cross-entropy per finding (multi-label), Adam, learning rate ``lr`` with cosine decay
(default :data:`LR` for convolutional encoders and :data:`TRANSFORMER_LR` for a ViT or Swin,
as MONAI's UNETR/Swin UNETR recipes and MAE's fine-tuning, 5e-4 x 64/256, use about 1e-4: at
1e-3 a ViT kept its epoch-1 weights, val-selected, test AUC 0.712),
random flips on every axis as the only augmentation, ``epochs`` passes (at least ``min_steps``
optimizer steps, so 1% of the labels still trains), the epoch with the best validation AUC
kept (val selects, test only reports), then test ACC and AUC (:func:`sslkit.medical.tasks.
scores`). ``fraction`` < 1 fine-tunes on a stratified seeded subsample of the training labels
(core's :func:`~sslkit.core.evaluate.payoff.label_subsample`); val stays whole.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from sslkit.medical.tasks import multilabel_scores, scores

EPOCHS = 15
MIN_STEPS = 100
LR = 1e-3
TRANSFORMER_LR = 1e-4
BATCH = 64


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, dim: int, outputs: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(dim, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def _flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    for axis in range(2, x.dim()):
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        if flip.any():
            x = torch.where(flip.view(-1, *[1] * (x.dim() - 1)), x.flip(axis), x)
    return x


def _predict(model: nn.Module, images: torch.Tensor, multilabel: bool) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), 256):
            logits = model(images[start : start + 256]).float()
            out.append(torch.sigmoid(logits) if multilabel else logits.softmax(-1))
    return torch.cat(out).numpy()


def _score(y: np.ndarray, proba: np.ndarray, multilabel: bool) -> dict[str, float]:
    if multilabel:
        return multilabel_scores(y, proba)
    keep = np.isfinite(y[:, 0])
    return scores(y[keep, 0], proba[keep])


def finetune(
    encoder: nn.Module, data: Any, *, fraction: float = 1.0, seed: int = 0, epochs: int = EPOCHS,
    min_steps: int = MIN_STEPS, lr: float | None = None, batch_size: int = BATCH,
) -> dict[str, float]:  # fmt: skip
    """Fine-tune a copy of ``encoder`` (``encoder.out_dim`` wide) on ``data``'s train labels;
    test ACC/AUC at the best val epoch (val ACC/AUC and the epoch too)."""
    from sslkit.core.evaluate.payoff import label_subsample

    multilabel = data.kind == "multilabel"
    train = data.split_index("train")
    ytr = data.labels[train]
    if multilabel:
        keep = np.arange(len(train))
        if fraction < 1:
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(len(train), max(2, round(fraction * len(train))), False))
    else:
        labelled = np.flatnonzero(np.isfinite(ytr[:, 0]))
        keep = labelled[label_subsample(ytr[labelled, 0].astype(np.int64), fraction, seed, "c")]
    train = train[keep]
    outputs = data.labels.shape[1] if multilabel else int(np.nanmax(data.labels[:, 0])) + 1
    torch.manual_seed(seed)
    model = Classifier(copy.deepcopy(encoder), int(encoder.out_dim), outputs)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    epochs = max(epochs, math.ceil(min_steps / steps_per_epoch))
    total = epochs * steps_per_epoch
    if lr is None:
        lr = TRANSFORMER_LR if getattr(encoder, "arch", "") in ("vit", "swin") else LR
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    loss_fn = nn.BCEWithLogitsLoss() if multilabel else nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    images, labels = data.images, torch.from_numpy(data.labels)
    has_val = "val" in data.split_names()
    sel = data.split_index("val") if has_val else data.split_index("train")
    best: tuple[float, int, dict] = (-math.inf, -1, {})
    for epoch in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=gen).numpy()]
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x = _flip(images[idx], gen)
            y = labels[idx]
            logits = model(x)
            if multilabel:
                ok = torch.isfinite(y)
                loss = loss_fn(logits[ok], y[ok].float())
            else:
                loss = loss_fn(logits, y[:, 0].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        val = _score(data.labels[sel], _predict(model, images[sel], multilabel), multilabel)
        key = val["auc"] if np.isfinite(val["auc"]) else val["acc"]
        if key > best[0]:
            best = (key, epoch, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    out = {"epochs": float(epochs), "best_epoch": float(best[1] + 1), "n_train": float(len(train)),
           "lr": float(lr)}  # fmt: skip
    if has_val:
        val = _score(data.labels[sel], _predict(model, images[sel], multilabel), multilabel)
        out.update(val_acc=val["acc"], val_auc=val["auc"])
    if "test" in data.split_names():
        test = data.split_index("test")
        out.update(_score(data.labels[test], _predict(model, images[test], multilabel), multilabel))
    return out


def fresh_encoder(method: Any, seed: int) -> nn.Module:
    """The method's encoder built again from its spec with ``seed``: the same network, untrained."""
    from sslkit.core.plugin import resolve

    spec = method.encoder_spec()
    torch.manual_seed(seed)
    return resolve(spec["build"])(**spec["kwargs"])


def finetune_task(ctx: Any) -> dict[str, Any]:
    data = ctx.data
    if not data.has_labels() or "train" not in data.split_names():
        return {"skipped": "fine-tuning needs labelled train images"}
    encoder = ctx.method.embedder()
    was = encoder.training
    try:
        pretrained = finetune(encoder.cpu(), data, seed=ctx.seed)
        scratch = finetune(fresh_encoder(ctx.method, ctx.seed), data, seed=ctx.seed)
    finally:
        encoder.train(was)
    out: dict[str, Any] = {k: v for k, v in pretrained.items()}
    out.update({f"scratch_{k}": v for k, v in scratch.items()})
    if "auc" in pretrained and "auc" in scratch:
        gain = pretrained["auc"] - scratch["auc"]
        out["verdict"] = (
            f"fine-tuned after pretraining: test AUC {pretrained['auc']:.4f} (ACC "
            f"{pretrained['acc']:.4f}) against {scratch['auc']:.4f} (ACC {scratch['acc']:.4f}) "
            f"for the same network from scratch ({gain:+.4f}): pretraining "
            + ("paid" if gain > 0.002 else "did not pay")
        )
    return out
