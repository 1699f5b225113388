"""PNG plots for the report (matplotlib, Agg backend: no display needed).

- ``training.png``: loss over optimizer steps from the run's ``metrics.jsonl`` and, when the
  collapse monitor logged it (``train.monitor_every``, on by default), RankMe on a second axis.
- ``embedding_map.png``: a 2-D map of the embeddings (PCA, or t-SNE), coloured by label.
- ``spectrum.png``: the normalised singular values of the embeddings (what RankMe summarises).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Records of ``metrics.jsonl`` (a torn last line from an interrupted run is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "step" in rec:
            records.append(rec)
    return records


def _rankme_key(records: list[dict[str, Any]]) -> str | None:
    for rec in records:
        for key in rec:
            if key.split("/")[-1] == "rankme":
                return key
    return None


def training_curves(records: list[dict[str, Any]], path: Path) -> dict[str, Any] | None:
    """Loss (and RankMe when logged) against the step; returns a summary or None (no records)."""
    steps = [r["step"] for r in records if _finite(r.get("loss"))]
    losses = [float(r["loss"]) for r in records if _finite(r.get("loss"))]
    if not steps:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(steps, losses, color="tab:blue", lw=1.5, label="loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss", color="tab:blue")
    summary: dict[str, Any] = {
        "steps": float(max(steps)),
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    key = _rankme_key(records)
    if key is not None:
        pts = [(r["step"], float(r[key])) for r in records if _finite(r.get(key))]
        ax2 = ax.twinx()
        ax2.plot(*zip(*pts), color="tab:orange", lw=1.5, marker="o", ms=3, label="RankMe")
        ax2.set_ylabel("RankMe", color="tab:orange")
        summary["rankme_first"], summary["rankme_last"] = pts[0][1], pts[-1][1]
        ax.set_title("training loss and RankMe")
    else:
        # the monitor is on by default (train.monitor_every = -1, ~20 points a run)
        ax.set_title("training loss (RankMe not logged: train.monitor_every = 0)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return summary


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def project_2d(x: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``x``: PCA (fast, linear) or t-SNE (van der Maaten & Hinton 2008)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    if method == "tsne" and len(x) > 5:
        from sklearn.manifold import TSNE

        return TSNE(
            n_components=2, init="pca", random_state=seed, perplexity=min(30.0, len(x) / 4)
        ).fit_transform(x)
    if x.shape[1] < 2:
        return np.column_stack([x[:, 0], np.zeros(len(x))])
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def embedding_map(
    x: np.ndarray,
    y: np.ndarray | None,
    path: Path,
    *,
    kind: str = "classification",
    method: str = "pca",
    max_points: int = 3000,
    seed: int = 0,
    title: str = "",
) -> dict[str, Any]:
    """A scatter of the 2-D map, coloured by class (or by value for regression targets)."""
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        keep = np.sort(rng.choice(len(x), max_points, replace=False))
        x, y = x[keep], None if y is None else y[keep]
    xy = project_2d(x, method, seed)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5), dpi=110)
    if y is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=8, alpha=0.6, color="tab:blue", lw=0)
        legend = "no labels"
    elif kind == "regression" or (np.asarray(y).dtype.kind == "f" and len(np.unique(y)) > 20):
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.7, c=y, cmap="viridis", lw=0)
        fig.colorbar(sc, ax=ax, label="target")
        legend = "target value"
    else:
        classes, inverse = np.unique(np.asarray(y), return_inverse=True)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for c in range(len(classes)):
            m = inverse == c
            ax.scatter(
                xy[m, 0],
                xy[m, 1],
                s=9,
                alpha=0.7,
                lw=0,
                color=cmap(c % cmap.N),
                label=str(classes[c]) if len(classes) <= 20 else None,
            )
        if len(classes) <= 20:
            ax.legend(markerscale=3, fontsize=7, loc="best", frameon=False, ncol=2)
        legend = f"{len(classes)} classes"
    ax.set_title(title or f"embeddings ({method.upper()}, {len(xy)} points, {legend})")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return {"points": float(len(xy)), "projection": method}


def spectrum(x: np.ndarray, path: Path, max_rows: int = 8192, seed: int = 0) -> None:
    """Normalised singular values (log scale): a flat spectrum is a high-rank representation."""
    rng = np.random.default_rng(seed)
    if len(x) > max_rows:
        x = x[np.sort(rng.choice(len(x), max_rows, replace=False))]
    s = np.linalg.svd(np.asarray(x, dtype=np.float64), compute_uv=False)
    s = s / max(s.sum(), 1e-300)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s, 1e-12), marker=".", lw=1)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("normalised singular value")
    ax.set_title("embedding spectrum (RankMe = exp(entropy))")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
