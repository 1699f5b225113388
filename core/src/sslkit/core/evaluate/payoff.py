"""Did pretraining pay? The embedding against the untrained control and the field's baseline.

For the plugin's default task, three feature sets are scored by the same probe on the same
splits:

- the **pretrained** embeddings;
- the **untrained control**: the same encoder built with the same seed and not trained (the
  weights pretraining started from), so the gain is what training added, not the architecture;
- the **baseline**: features of the raw input that the task declares (raw columns, hand-crafted
  aggregates, raw node features), scored by the probe and, where the field uses it, by gradient
  boosting.

Each is scored at 1%, 10% and 100% of the training labels (a **label-efficiency curve**):
stratified, seeded subsamples of the labelled training rows (at least one per class), mean and
standard deviation over the seeds; 100% is one fit. A validation split used to choose the probe's
``C`` is subsampled the same way, so no fraction sees more labels than it says. The **verdict**
compares the pretrained score at 100% with the control's and the best baseline's, and says
plainly when pretraining did not beat them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from sslkit.core.evaluate.embeddings import Embeddings

FRACTIONS = (0.01, 0.1, 1.0)
CURVE_PNG = "label_efficiency.png"
SEEDS = 5
PRETRAINED, CONTROL = "pretrained", "untrained control"
METRIC_NAMES = {"roc_auc": "ROC-AUC", "accuracy": "accuracy", "r2": "R²"}
TIE = 0.002
"""A gain of at most this much (a fifth of a point of ROC-AUC or accuracy) is no gain: the
verdict says pretraining did not beat what it matched."""


def labelled_rows(emb: Embeddings, kind: str = "classification") -> np.ndarray:
    """Indices of the rows with a usable label (finite; integer class labels >= 0, as the
    plugins mark unlabelled rows with -1)."""
    if emb.y is None:
        return np.empty(0, dtype=np.int64)
    y = np.asarray(emb.y)
    if y.dtype.kind == "f":
        return np.flatnonzero(np.isfinite(y))
    if y.dtype.kind in "iu" and kind != "regression":
        return np.flatnonzero(y >= 0)
    return np.arange(len(y))


def take(emb: Embeddings, rows: np.ndarray) -> Embeddings:
    return Embeddings(emb.ids[rows], emb.X[rows], None if emb.y is None else emb.y[rows])


def label_subsample(y: np.ndarray, fraction: float, seed: int, kind: str) -> np.ndarray:
    """Sorted row indices of a seeded ``fraction`` of ``y``: per class ``max(1, round(f n_c))``
    rows (every class keeps one), or ``max(2, round(f n))`` rows for a regression target."""
    n = len(y)
    if fraction >= 1.0:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if kind == "regression":
        k = min(n, max(2, round(fraction * n)))
        return np.sort(rng.choice(n, k, replace=False))
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = max(1, round(fraction * len(members)))
        keep.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(keep))


def headline_metric(kind: str, y: np.ndarray) -> str:
    """ROC-AUC for two classes, accuracy for more, R² for a regression target."""
    if kind == "regression":
        return "r2"
    return "roc_auc" if len(np.unique(y)) == 2 else "accuracy"


def _boosting(train: Embeddings, test: Embeddings, kind: str, metric: str, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if kind == "regression":
        model = HistGradientBoostingRegressor(random_state=seed).fit(train.X, train.y)
        return float(r2_score(test.y, model.predict(test.X)))
    model = HistGradientBoostingClassifier(random_state=seed).fit(train.X, train.y)
    if metric == "roc_auc":
        return float(roc_auc_score(test.y == model.classes_[1], model.predict_proba(test.X)[:, 1]))
    return float(accuracy_score(test.y, model.predict(test.X)))


def score(
    model: str,
    train: Embeddings,
    test: Embeddings,
    kind: str,
    metric: str,
    protocol: Any,
    seed: int,
    val: Embeddings | None = None,
) -> float:
    """The test ``metric`` of ``model`` ("probe" or "boosting") fitted on ``train``."""
    if model == "boosting":
        return _boosting(train, test, kind, metric, seed)
    if kind == "regression":
        from sslkit.core.evaluate.probes import linear_probe

        return float(linear_probe(train, test, "regression", seed)["r2"])
    from sslkit.core.evaluate.logistic import logistic_probe

    out = logistic_probe(train, test, protocol, seed, val=val)
    return float(out.get(metric, math.nan))


def _remembered(memo: dict[str, float] | None, model: str, train: Embeddings,
                test: Embeddings, kind: str, metric: str, protocol: Any, seed: int,
                val: Embeddings | None) -> float:  # fmt: skip
    """:func:`score`, looked up in (and added to) ``memo`` by a digest of its inputs."""
    if memo is None:
        return score(model, train, test, kind, metric, protocol, seed, val)
    from sslkit.core.evaluate.logistic import digest

    parts = [train.X, np.asarray(train.y), test.X, np.asarray(test.y)]
    if val is not None:
        parts += [val.X, np.asarray(val.y)]
    key = digest(*parts, model, kind, metric, protocol, seed).hex()
    if key not in memo:
        memo[key] = score(model, train, test, kind, metric, protocol, seed, val)
    return memo[key]


def label_curve(
    sets: dict[str, tuple[Embeddings, Embeddings, Embeddings | None]],
    models: dict[str, tuple[str, ...]],
    kind: str,
    protocol: Any,
    *,
    fractions: tuple[float, ...] = FRACTIONS,
    seeds: int = SEEDS,
    seed: int = 0,
    memo: dict[str, float] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """``(metric, rows)``: one row per feature set, model and fraction of the training labels,
    with the mean and std over ``seeds`` seeded subsamples (one fit at 100%).

    ``sets[name] = (train, test, val or None)``, rows aligned across sets (the subsample of a
    fraction and seed is the same rows in every set, so differences are paired). ``memo``
    holds the scores of earlier fits by a digest of everything a score depends on (the rows,
    labels, model, protocol and seed); new scores are added to it."""
    first = next(iter(sets.values()))
    y_train = np.asarray(first[0].y)
    metric = headline_metric(kind, y_train)
    rows = []
    for fraction in fractions:
        draws = 1 if fraction >= 1.0 else seeds
        picks = [
            (
                label_subsample(y_train, fraction, seed + s, kind),
                None
                if first[2] is None
                else label_subsample(np.asarray(first[2].y), fraction, seed + s, kind),
            )
            for s in range(draws)
        ]
        for name, (train, test, val) in sets.items():
            for model in models[name]:
                scores = [
                    _remembered(
                        memo,
                        model,
                        take(train, tr),
                        test,
                        kind,
                        metric,
                        protocol,
                        seed + s,
                        None if val is None or va is None else take(val, va),
                    )
                    for s, (tr, va) in enumerate(picks)
                ]
                rows.append(
                    {
                        "features": name,
                        "model": model,
                        "fraction": float(fraction),
                        "labels": len(picks[0][0]),
                        "mean": float(np.mean(scores)),
                        "std": float(np.std(scores)),
                        "seeds": draws,
                        "scores": [float(v) for v in scores],
                    }
                )
    return metric, rows


def mean_over_tasks(
    curves: list[tuple[str, list[dict[str, Any]]]],
) -> tuple[str, list[dict[str, Any]]]:
    """One :func:`label_curve` of several tasks (each ``(metric, rows)``, the same feature
    sets, models, fractions and seeds in the same order): per row the mean over the tasks of
    each seed's score, then the mean and std of those over the seeds; ``labels`` the tasks'
    summed training labels. One curve is returned as it is."""
    if len(curves) == 1:
        return curves[0]
    metric, first = curves[0]
    if any(m != metric for m, _ in curves):
        raise ValueError(f"the tasks are scored by different metrics ({[m for m, _ in curves]})")
    rows = []
    for i, row in enumerate(first):
        scores = np.mean([np.asarray(rows_t[i]["scores"]) for _, rows_t in curves], axis=0)
        rows.append({
            **row,
            "labels": int(sum(rows_t[i]["labels"] for _, rows_t in curves)),
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "scores": [float(v) for v in scores],
            "tasks": len(curves),
        })  # fmt: skip
    return metric, rows


def _row(rows: list[dict[str, Any]], features: str, fraction: float, model: str = "probe"):
    for row in rows:
        if row["features"] == features and row["model"] == model and row["fraction"] == fraction:
            return row
    return None


def _baselines(rows: list[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    return [
        r for r in rows if r["fraction"] == fraction and r["features"] not in (PRETRAINED, CONTROL)
    ]


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def _gain(x: float) -> str:
    return f"{x:+.4f}"


def describe(row: dict[str, Any]) -> str:
    """ "gradient boosting on the raw columns", "the probe on the raw node features", ..."""
    if row["features"] == CONTROL:
        return "the untrained encoder"
    what = "gradient boosting" if row["model"] == "boosting" else "the probe"
    return f"{what} on {row['features']}"


def verdict(metric: str, rows: list[dict[str, Any]], fraction: float = 1.0) -> dict[str, Any]:
    """The pretrained score at ``fraction`` of the labels against the control's and the best
    baseline's, with the gains, and one plain sentence (``line``)."""
    name = METRIC_NAMES.get(metric, metric)
    rows = [r for r in rows if np.isfinite(r["mean"])]
    mine = _row(rows, PRETRAINED, fraction)
    if mine is None:
        return {"line": "No verdict: the pretrained embeddings could not be scored."}
    out: dict[str, Any] = {"metric": metric, "fraction": fraction, "pretrained": mine["mean"]}
    parts, failed = [], []
    control = _row(rows, CONTROL, fraction)
    if control is not None:
        gain = mine["mean"] - control["mean"]
        out.update(control=control["mean"], gain_over_control=gain)
        parts.append(f"{_fmt(control['mean'])} for the untrained encoder ({_gain(gain)})")
        if gain <= TIE:
            failed.append("the untrained encoder")
    bases = _baselines(rows, fraction)
    if bases:
        best = max(bases, key=lambda r: r["mean"])
        gain = mine["mean"] - best["mean"]
        out.update(baseline=best["mean"], baseline_name=describe(best), gain_over_baseline=gain)
        parts.append(f"{_fmt(best['mean'])} for {describe(best)} ({_gain(gain)})")
        if gain <= TIE:
            failed.append(describe(best))
    labels = "all" if fraction >= 1.0 else f"{fraction:.0%} of the"
    scores = f"{name} {_fmt(mine['mean'])} with {labels} training labels"
    if parts:
        scores += ", against " + " and ".join(parts)
    if failed:
        head = f"Pretraining did not beat {' or '.join(failed)} on this data"
    else:
        head = "Pretraining paid on this data"
    out["paid"] = not failed
    out["line"] = f"{head}: {scores}."
    return out


def paired_gain(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """Row ``a``'s per-seed scores minus row ``b``'s (the same subsamples): the mean and its
    standard error (NaN from a single fit)."""
    diff = np.asarray(a["scores"]) - np.asarray(b["scores"])
    se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else math.nan
    return float(diff.mean()), se


def paired_text(mine: list[float], control: list[float], against: str, sign: int = 1) -> str:
    """One line for a benchmark table: the per-seed gain of ``mine`` over ``control`` (paired
    seeds, :func:`paired_gain`) ± its standard error, t, and how many seeds are better
    (``sign`` -1 where lower is better, an RMSE)."""
    gain, se = paired_gain({"scores": mine}, {"scores": control})
    better = sum((a - b) * sign > 0 for a, b in zip(mine, control))
    t = gain / se if se else math.nan
    return (f"{gain:+.4f} ± {se:.4f} against {against} on {len(mine)} seeds (t {t:+.2f}), "
            f"{better} of them better")  # fmt: skip


def low_label_lines(metric: str, rows: list[dict[str, Any]]) -> list[str]:
    """One line per fraction below 100%: the pretrained mean ± std and its paired gain over
    the control (mean ± standard error of the per-seed differences)."""
    lines = []
    for fraction in sorted({r["fraction"] for r in rows if r["fraction"] < 1.0}):
        mine, control = _row(rows, PRETRAINED, fraction), _row(rows, CONTROL, fraction)
        if mine is None:
            continue
        text = (
            f"{fraction:.0%} of the labels ({mine['labels']}): "
            f"{_fmt(mine['mean'])} ± {_fmt(mine['std'])}"
        )
        if control is not None:
            gain, se = paired_gain(mine, control)
            text += f", {_gain(gain)} ± {_fmt(se)} over the untrained encoder"
        lines.append(text)
    return lines


def plot_curve(metric: str, rows: list[dict[str, Any]], path: Path) -> None:
    """The label-efficiency curve: one line per feature set and model, std as error bars."""
    from sslkit.core.evaluate.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for key in dict.fromkeys((r["features"], r["model"]) for r in rows):
        pts = sorted(
            (r for r in rows if (r["features"], r["model"]) == key), key=lambda r: r["fraction"]
        )
        label = key[0] if key[1] == "probe" else f"{key[0]} (boosting)"
        ax.errorbar(
            [100 * r["fraction"] for r in pts],
            [r["mean"] for r in pts],
            yerr=[r["std"] for r in pts],
            marker="o",
            capsize=3,
            lw=2.0 if key[0] == PRETRAINED else 1.2,
            label=label,
        )
    ax.set_xscale("log")
    ax.set_xlabel("training labels used (%)")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.set_title("Label efficiency (mean ± std over seeded subsamples)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
