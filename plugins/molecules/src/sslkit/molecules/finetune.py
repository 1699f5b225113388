"""Fine-tuning with Hu et al.'s protocol (snap-stanford/pretrain-gnns ``chem/finetune.py``,
``GNN_graphpred``): the pretrained GIN, mean pooling and a linear head ``Linear(d, tasks)``
trained end to end, dropout 0.5 after every GIN layer, Adam lr 1e-3 without weight decay,
batch 32, 100 epochs; after each epoch the val and test scores, and the reported score is the
test score at the epoch of the best val score (``test_at_best_val``; the last epoch's, as
GraphMAE reports, is ``test_last``). "No pretraining" is the same network from a random
initialisation (:func:`untrained_like`), trained the same way.

- Classification: Hu et al.'s masked binary cross-entropy (:func:`masked_bce`: a missing label
  adds nothing, the mean over the present ones), ROC-AUC averaged over the tasks whose split
  holds both classes (their ``eval``).
- The ``mlm`` run's token Transformer is fine-tuned the same way (its inputs are the
  molecules' tokens), with RoBERTa's fine-tuning dropout 0.1 (``token_dropout``) in place of
  the GIN's 0.5, and Adam 1e-4 (``token_lr``): RoBERTa and SELFormer fine-tune a pretrained
  Transformer below its pretraining rate (ours pretrains at 5e-4); at the GIN's 1e-3 it
  collapsed on BBBP (best val at epoch 2, test ROC-AUC 0.37 at epoch 100).
- Regression (ESOL; Hu et al. have none): mean squared error on the train split's
  standardised targets over the present labels, RMSE in the labels' units averaged over tasks.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sslkit.core.nn.spec import recorded_spec


@dataclass
class FineTuneOptions:
    """Hu et al.'s fine-tuning settings (``chem/finetune.py`` defaults)."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    """Adam's learning rate for a GIN embedder (a token Transformer takes ``token_lr``)."""
    weight_decay: float = 0.0
    dropout: float = 0.5
    """Dropout after every GIN layer (Hu et al.)."""
    token_dropout: float = 0.1
    """Dropout of the token Transformer of an ``mlm`` run (RoBERTa's fine-tuning value)."""
    token_lr: float = 1e-4
    """Adam's learning rate for the token Transformer of an ``mlm`` run."""
    seed: int = 0
    eval_batch: int = 512

    def lr_for(self, embedder: nn.Module) -> float:
        """``lr`` for a GIN embedder, ``token_lr`` for a token Transformer."""
        return self.lr if is_gin(embedder) else self.token_lr


def is_gin(embedder: nn.Module) -> bool:
    """A GIN ``MoleculeEmbedder`` (it has ``.gnn``), not an mlm run's ``TokenEmbedder``."""
    return hasattr(embedder, "gnn")


class GraphPredictor(nn.Module):
    """Hu et al.'s ``GNN_graphpred``: a copy of the embedder (its GIN's dropout set to
    ``dropout``, a token Transformer's to ``token_dropout``) and ``Linear(embedding,
    tasks)``."""

    def __init__(self, embedder: nn.Module, tasks: int, dropout: float, token_dropout: float):
        super().__init__()
        self.embedder = copy.deepcopy(embedder)
        if is_gin(self.embedder):
            self.embedder.gnn.dropout = float(dropout)
        else:
            self.embedder.set_dropout(token_dropout)
        self.head = nn.Linear(self.embedder.out_dim, tasks)

    def forward(self, inputs: dict[str, Tensor]) -> Tensor:
        return self.head(self.embedder(inputs))


def untrained_like(embedder: nn.Module, seed: int) -> nn.Module:
    """The same network as ``embedder`` (a ``MoleculeEmbedder`` or ``TokenEmbedder``) from a
    random initialisation (seeded)."""
    spec = recorded_spec(embedder)
    if spec is None:
        raise TypeError("the embedder records no spec (not a MoleculeEmbedder or TokenEmbedder)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return type(embedder)(**spec["kwargs"])


def masked_bce(logits: Tensor, y: Tensor) -> Tensor:
    """Hu et al.'s loss: binary cross-entropy with logits over the labels present (``y`` 0/1,
    NaN where missing), summed and divided by their count."""
    valid = torch.isfinite(y)
    target = torch.where(valid, y, torch.zeros_like(y))
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return torch.where(valid, loss, torch.zeros_like(loss)).sum() / valid.sum().clamp(min=1)


def masked_mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error over the labels present (``y`` NaN where missing)."""
    valid = torch.isfinite(y)
    diff = torch.where(valid, pred - torch.nan_to_num(y), torch.zeros_like(pred))
    return (diff**2).sum() / valid.sum().clamp(min=1)


def score(pred: np.ndarray, y: np.ndarray, kind: str) -> float:
    """ROC-AUC averaged over the tasks with both classes (classification) or RMSE averaged
    over the tasks with labels (regression); NaN when no task can be scored."""
    from sklearn.metrics import roc_auc_score

    values = []
    for t in range(y.shape[1]):
        keep = np.isfinite(y[:, t])
        if kind == "regression":
            if keep.any():
                values.append(float(np.sqrt(np.mean((pred[keep, t] - y[keep, t]) ** 2))))
        elif len(np.unique(y[keep, t])) == 2:
            values.append(float(roc_auc_score(y[keep, t], pred[keep, t])))
    return float(np.mean(values)) if values else float("nan")


def _inputs(data: Any, index: Any, device: str) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in data.inputs_of(index).items()}


def _predict(model: nn.Module, data: Any, rows: np.ndarray, bs: int, device: str) -> np.ndarray:
    """``model(inputs)`` of the molecules ``rows`` in eval mode, in batches of ``bs``."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(rows), bs):
            out.append(model(_inputs(data, rows[start : start + bs], device)).float().cpu().numpy())
    return np.concatenate(out)


def predict_embeddings(
    embedder: nn.Module, data: Any, split: str, device: str = "cpu", bs: int = 512
) -> np.ndarray:
    """Frozen embeddings of a split's molecules (in ``split_index`` order)."""
    return _predict(embedder, data, data.split_index(split), bs, device)


def _best(history: list[dict[str, Any]], lower: bool) -> dict[str, Any]:
    """The first epoch with the best val score (lowest when ``lower``)."""
    best = history[0]
    for row in history[1:]:
        v, b = row["val"], best["val"]
        if np.isfinite(v) and (not np.isfinite(b) or (v < b if lower else v > b)):
            best = row
    return best


def fine_tune(
    embedder: nn.Module,
    data: Any,
    options: FineTuneOptions | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Fine-tune a copy of ``embedder`` on ``data``'s train split (a
    :class:`~sslkit.molecules.data.MoleculeSet` with labels and train/val/test splits)."""
    o = options or FineTuneOptions()
    kind = data.task_kind()
    if kind not in ("classification", "regression"):
        raise ValueError("fine-tuning needs labelled data")
    rows = {s: data.split_index(s) for s in ("train", "val", "test")}
    labels = {s: data.labels[r].astype(np.float64) for s, r in rows.items()}
    mean = np.zeros(labels["train"].shape[1])
    std = np.ones_like(mean)
    if kind == "regression":  # standardised targets; scores in the labels' units
        mean = np.nanmean(labels["train"], axis=0)
        std = np.nanstd(labels["train"], axis=0) + 1e-8
    y_train = torch.tensor((labels["train"] - mean) / std, dtype=torch.float32)
    loss_fn = masked_mse if kind == "regression" else masked_bce

    torch.manual_seed(o.seed)
    model = GraphPredictor(embedder, y_train.shape[1], o.dropout, o.token_dropout).to(device)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=o.lr_for(embedder), weight_decay=o.weight_decay
    )
    order = torch.Generator().manual_seed(o.seed)
    n = len(rows["train"])
    history = []
    start, wall = time.process_time(), time.perf_counter()
    for epoch in range(1, o.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=order).tolist()
        for b in range(0, n, o.batch_size):
            part = perm[b : b + o.batch_size]
            if len(part) < 2:  # BatchNorm needs two molecules
                continue
            inputs = _inputs(data, rows["train"][part], device)
            loss = loss_fn(model(inputs), y_train[part].to(device))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        row = {"epoch": epoch, "loss": float(loss.detach())}
        for split in ("val", "test"):
            pred = _predict(model, data, rows[split], o.eval_batch, device)
            if kind == "classification":
                pred = 1 / (1 + np.exp(-pred))
            else:
                pred = pred * std + mean
            row[split] = score(pred, labels[split], kind)
        history.append(row)
    best = _best(history, lower=kind == "regression")
    metric = "rmse" if kind == "regression" else "roc_auc"
    return {
        "metric": metric,
        "test_at_best_val": best["test"],
        "best_val": best["val"],
        "best_epoch": best["epoch"],
        "test_last": history[-1]["test"],
        "val_last": history[-1]["val"],
        "cpu_seconds": round(time.process_time() - start, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "lr": optimiser.param_groups[0]["lr"],  # the rate the model was trained at
        "options": asdict(o),
        "history": history,
    }


def fine_tuning(ctx: Any) -> dict[str, Any]:
    """The ``fine_tune`` task: Hu et al.'s protocol (one seed, the run's) on the run's encoder
    and on the same network from a random initialisation ("no pretraining")."""
    data = ctx.data
    if data.labels is None:
        return {"skipped": "the molecules have no labels (set data.labels)"}
    if any(not len(data.splits.get(s, ())) for s in ("train", "val", "test")):
        return {"skipped": "fine-tuning needs train, val and test splits"}
    options = FineTuneOptions(seed=ctx.seed)
    encoder = ctx.method.embedder()
    pretrained = fine_tune(encoder, data, options, ctx.device)
    untrained = fine_tune(untrained_like(encoder, ctx.seed), data, options, ctx.device)
    m = pretrained["metric"]
    return {
        m: pretrained["test_at_best_val"],
        f"{m}_last_epoch": pretrained["test_last"],
        f"untrained_{m}": untrained["test_at_best_val"],
        f"untrained_{m}_last_epoch": untrained["test_last"],
        "best_epoch": float(pretrained["best_epoch"]),
        "epochs": float(options.epochs),
        "protocol": "Hu et al. 2020: the run's encoder (GIN + mean pooling, dropout 0.5, Adam "
        "1e-3; a token Transformer: dropout 0.1, Adam 1e-4) + linear head, batch 32, test at the "
        "best val epoch",
    }
