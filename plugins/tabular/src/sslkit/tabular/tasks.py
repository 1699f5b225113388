"""Downstream evaluations of tabular embeddings (classification or regression on the target).

- ``probe`` (the default task; also the domain's ``linear-probe``): core's logistic probe with
  the protocol ``TABULAR_PROBE`` (classification; ``C`` chosen on a seeded tenth of the train
  split) or ridge regression (``alpha`` by leave-one-out) on standardised frozen embeddings,
  fitted on the train split, scored on the test split.
- ``mlp``: a small MLP head on the standardised frozen embeddings (early stopping on a tenth
  of the train split).
- ``tjepa-protocol``: the protocol of the T-JEPA paper: the same downstream MLP trained on the
  raw features (scaled numeric + one-hot categorical), on the embeddings alone (what the
  reference code calls "MLP + T-JEPA") and on the raw features concatenated with the
  embeddings; reports the three and the gains over raw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sslkit.core.errors import DataError
from sslkit.core.evaluate.logistic import ProbeProtocol, fit_logistic

TABULAR_PROBE = ProbeProtocol(
    cs=(0.01, 0.1, 1.0, 10.0),
    select="holdout",
    holdout=0.1,
    min_holdout=50,
    scoring="accuracy",
    standardise=True,
    scaler="numpy",
    solver="lbfgs",
    max_iter=300,
    warm_start=True,
)
"""The tabular probe's protocol (the published Adult numbers were measured with it, cold-started
until 2026-12-01): features standardised by the train split's mean and std (float32), the C with
the best accuracy on a seeded tenth of the train split (fitted on the other nine tenths, each C
started from the previous C's solution) refitted on the whole split from the best C's
solution (``LogisticRegressionCV``); C = 1 without a search when that tenth has fewer than 50
rows (train under about 500 rows) or the nine tenths lack a class. Warm starts halve the fit on
T-JEPA's 1,024 dimensions of Adult (136 s to 69 s on one thread) and move its test ROC-AUC by
4e-5 (0.918299 to 0.918340; same C). The grid: on 1,024 T-JEPA dimensions of Adult a fixed C = 1
over-fitted, C = 0.01 scored 0.56 points higher on a validation fifth of adult.data (seed 0)."""


# ---------------------------------------------------------------------------------------------
# helpers


def _labelled(X: np.ndarray, y: np.ndarray | None, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if y is None:
        raise DataError("the data has no target", hint="set data.target to a column")
    keep = np.isfinite(y) if kind == "regression" else y >= 0
    return X[keep], y[keep]


def _splits(ctx: Any, features: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) with ``features(split)`` giving (X, y)."""
    kind = ctx.data.task_kind()
    Xtr, ytr = _labelled(*features("train"), kind)
    if "test" in ctx.data.split_names():
        Xte, yte = _labelled(*features("test"), kind)
    else:  # tiny data without a test split: hold out a seeded fifth of train
        rng = np.random.default_rng(ctx.seed)
        held = rng.random(len(Xtr)) < 0.2
        Xtr, ytr, Xte, yte = Xtr[~held], ytr[~held], Xtr[held], ytr[held]
    if len(Xtr) < 2 or len(Xte) < 1:
        raise DataError(
            f"too few labelled rows to evaluate ({len(Xtr)} train, {len(Xte)} test)",
            hint="give more rows or a data.test_path",
        )
    return Xtr, ytr, Xte, yte


def _standardise(Xtr: np.ndarray, Xte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = Xtr.mean(0, keepdims=True)
    std = Xtr.std(0, keepdims=True)
    std[std < 1e-8] = 1.0
    return ((Xtr - mean) / std).astype(np.float32), ((Xte - mean) / std).astype(np.float32)


def _classification_metrics(
    y: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    pred = classes[np.argmax(proba, axis=1)]
    out = {"accuracy": float(accuracy_score(y, pred))}
    if len(classes) == 2 and len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y == classes[1], proba[:, 1]))
    return out


def _regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_squared_error, r2_score

    return {
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "r2": float(r2_score(y, pred)) if len(y) > 1 else float("nan"),
    }


def raw_features(ctx: Any, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The preprocessed row as one vector: scaled numeric values and one-hot categories."""
    cards = list(ctx.data.info["cardinalities"])
    xs, ys = [], []
    for batch in ctx.data.eval_batches(split, 8192):
        parts = []
        if "num" in batch.inputs:
            parts.append(batch.inputs["num"].numpy())
        if "cat" in batch.inputs:
            cat = batch.inputs["cat"].numpy()
            for j, c in enumerate(cards):
                parts.append(np.eye(c, dtype=np.float32)[cat[:, j]])
        xs.append(np.concatenate(parts, axis=1))
        if batch.labels is not None:
            ys.append(np.asarray(batch.labels))
    return np.concatenate(xs), (np.concatenate(ys) if ys else None)


def _once(ctx: Any, name: str, compute: Any) -> Any:
    """``compute()`` once per evaluation (``TaskContext.once``), shared by the tasks that fit
    the same model; every time for a context without ``once``."""
    once = getattr(ctx, "once", None)
    return compute() if once is None else once(f"sslkit.tabular.tasks:{name}", compute)


def _embeddings(ctx: Any, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    emb = ctx.embeddings(split)
    return emb.X, emb.y


# ---------------------------------------------------------------------------------------------
# probe


def fit_probe(
    Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, kind: str, seed: int = 0
) -> dict[str, float]:
    """Logistic (``TABULAR_PROBE``) or ridge regression on standardised features; metrics on
    the test rows."""
    if kind == "regression":
        from sklearn.linear_model import RidgeCV

        Xtr, Xte = _standardise(Xtr, Xte)
        model = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(Xtr, ytr)
        return _regression_metrics(yte, model.predict(Xte))
    if len(np.unique(ytr)) < 2:
        raise DataError("the train split has a single class; a probe needs two or more")
    model = fit_logistic(Xtr, ytr, TABULAR_PROBE, seed)  # standardises as _standardise does
    out = _classification_metrics(yte, model.predict_proba(Xte), model.classes_)
    out["C"] = model.C
    return out


def probe(ctx: Any) -> dict[str, Any]:
    """Linear probe on frozen embeddings (logistic with ``TABULAR_PROBE`` for classes, ridge
    for numbers). The plugin registers it as ``probe`` and as ``linear-probe`` (in place of
    core's generic probe): it is fitted once per evaluation and both report it."""
    return dict(_once(ctx, "probe", lambda: _probe(ctx)))


def _probe(ctx: Any) -> dict[str, Any]:
    kind = ctx.data.task_kind()
    Xtr, ytr, Xte, yte = _splits(ctx, lambda s: _embeddings(ctx, s))
    out: dict[str, Any] = fit_probe(Xtr, ytr, Xte, yte, kind, ctx.seed)
    out.update({"n_train": float(len(ytr)), "n_test": float(len(yte)), "dim": float(Xtr.shape[1])})
    if kind != "regression":
        out["selection"] = TABULAR_PROBE.describe()
    return out


# ---------------------------------------------------------------------------------------------
# MLP head


def fit_mlp(
    Xtr: np.ndarray,
    ytr: np.ndarray,
    Xte: np.ndarray,
    yte: np.ndarray,
    kind: str,
    seed: int = 0,
    *,
    hidden: int = 256,
    layers: int = 2,
    dropout: float = 0.1,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    epochs: int = 40,
    patience: int = 6,
    batch_size: int = 256,
    standardise: bool = True,
) -> dict[str, float]:
    """A small MLP (ReLU, dropout, AdamW) with early stopping on a tenth of the train rows;
    returns the test metrics of the epoch with the best validation score."""
    import torch
    from torch import nn

    if standardise:
        Xtr, Xte = _standardise(Xtr, Xte)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(Xtr))
    n_val = max(1, len(Xtr) // 10)
    val, fit = order[:n_val], order[n_val:]
    if kind == "regression":
        y_mean, y_std = float(ytr.mean()), float(ytr.std()) or 1.0
        targets = torch.from_numpy(((ytr - y_mean) / y_std).astype(np.float32))
        out_dim = 1
    else:
        classes, y_idx = np.unique(ytr, return_inverse=True)
        targets = torch.from_numpy(y_idx.astype(np.int64))
        out_dim = len(classes)
    X = torch.from_numpy(np.ascontiguousarray(Xtr, dtype=np.float32))
    Xt = torch.from_numpy(np.ascontiguousarray(Xte, dtype=np.float32))
    mods: list[nn.Module] = []
    width = X.shape[1]
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
        width = hidden
    mods.append(nn.Linear(width, out_dim))
    net = nn.Sequential(*mods)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if kind == "regression":
            return nn.functional.mse_loss(logits.squeeze(-1), y)
        return nn.functional.cross_entropy(logits, y)

    @torch.no_grad()
    def predict(inp: torch.Tensor) -> np.ndarray:
        net.eval()
        out = torch.cat([net(inp[i : i + 8192]) for i in range(0, len(inp), 8192)])
        net.train()
        return out.numpy()

    best, best_state, bad = float("inf"), None, 0
    fit_t = torch.from_numpy(fit)
    val_t = torch.from_numpy(val)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = fit_t[torch.randperm(len(fit_t), generator=gen)]
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            if len(idx) < 2:
                continue
            opt.zero_grad()
            loss_fn(net(X[idx]), targets[idx]).backward()
            opt.step()
        val_loss = float(loss_fn(torch.from_numpy(predict(X[val_t])), targets[val_t]))
        if val_loss < best - 1e-5:
            best, bad = val_loss, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    out = predict(Xt)
    if kind == "regression":
        return _regression_metrics(yte, out.squeeze(-1) * y_std + y_mean)
    proba = torch.softmax(torch.from_numpy(out), dim=1).numpy()
    return _classification_metrics(yte, proba, classes)


def mlp(ctx: Any) -> dict[str, Any]:
    """A small MLP head on frozen embeddings (the ``tjepa-protocol`` task's embedding arm:
    trained once per evaluation for both)."""
    return dict(_once(ctx, "mlp", lambda: _mlp(ctx)))


def _mlp(ctx: Any) -> dict[str, float]:
    kind = ctx.data.task_kind()
    Xtr, ytr, Xte, yte = _splits(ctx, lambda s: _embeddings(ctx, s))
    return fit_mlp(Xtr, ytr, Xte, yte, kind, ctx.seed)


def _joint(ctx: Any, split: str) -> tuple[np.ndarray, np.ndarray | None]:
    raw, y = raw_features(ctx, split)
    emb = ctx.embeddings(split)
    return np.concatenate([raw, emb.X], axis=1), y


def tjepa_protocol(ctx: Any) -> dict[str, Any]:
    """The T-JEPA paper's protocol: one downstream MLP (same architecture, optimiser, early
    stopping and seed) on the raw features (``raw_*``), on the embeddings alone
    (``embedding_*``: the reference code's "MLP + T-JEPA", an MLP on the target encoder's
    output) and on raw features + embeddings (``raw_embedding_*``); ``gain_*`` and
    ``gain_embedding_*`` are the two arms' differences from the raw arm."""
    kind = ctx.data.task_kind()
    Rtr, ytr, Rte, yte = _splits(ctx, lambda s: raw_features(ctx, s))
    Jtr, _, Jte, _ = _splits(ctx, lambda s: _joint(ctx, s))
    raw = fit_mlp(Rtr, ytr, Rte, yte, kind, ctx.seed)
    emb = _once(ctx, "mlp", lambda: _mlp(ctx))  # the mlp task's model
    joint = fit_mlp(Jtr, ytr, Jte, yte, kind, ctx.seed)
    key = "rmse" if kind == "regression" else "accuracy"
    out: dict[str, Any] = {  # the report's summary line shows the first four
        key: joint[key],
        f"raw_{key}": raw[key],
        f"embedding_{key}": emb[key],
        f"gain_{key}": joint[key] - raw[key],
        f"gain_embedding_{key}": emb[key] - raw[key],
    }
    for prefix, metrics in (("raw_", raw), ("embedding_", emb), ("raw_embedding_", joint)):
        out.update({f"{prefix}{k}": v for k, v in metrics.items() if f"{prefix}{k}" not in out})
    return out
