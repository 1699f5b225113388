"""Tabular recipes: which pretraining pays on Adult? Each variant's paired gain over its untrained
control at 1%, 10% and 100% of the labels, chosen on validation data only.

    OMP_NUM_THREADS=1 uv run python benchmarks/tabular_recipes.py                 # every variant
    OMP_NUM_THREADS=1 uv run python benchmarks/tabular_recipes.py --variants tjepa,scarf
    uv run python benchmarks/tabular_recipes.py --tables                          # docs only

The validation protocol: pretraining and scoring read ``adult.data`` alone (``data.path`` set
to the embedded ``adult.data.gz``, ``data.target=incomes``), so the plugin's seeded 80/20 split
of ``adult.data`` is the scored split and ``adult.test`` is never seen. Each variant is one
pretraining (``train.seed`` 0) and one :func:`label_efficiency.run_one` assessment: the tabular
probe on the pretrained embeddings, the untrained control and the raw columns (probe and
gradient boosting), on the same seeded label subsamples.

Writes ``benchmarks/results/tabular-recipes.json`` (variants run separately are merged; one
already there is skipped unless ``--force``) and the tables between ``TABULAR-RECIPES`` markers
in ``docs/tabular.md``; the second table there (``TABULAR-RECIPES-TEST``) shows the tabular
entries of ``label_efficiency.json`` (the default and the variants scored there with ``--tag``)
on the real test file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, machine, write_table
from label_efficiency import OUT as TEST_OUT
from label_efficiency import _pm, run_one

OUT = RESULTS / "tabular-recipes.json"
ADULT_DATA = ROOT / "plugins/tabular/src/sslkit/tabular/datasets/adult.data.gz"
VALIDATION = [f"data.path={ADULT_DATA}", "data.target=incomes"]

# name -> (method, overrides on the method's default preset, what it tries)
VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "tjepa": ("tjepa", [], "T-JEPA, default preset"),
    "scarf": ("scarf", [], "SCARF, default preset"),
    "vime": ("vime", [], "VIME, default preset"),
    "tjepa-4x": (
        "tjepa",
        ["train.epochs=20", "train.min_steps=1260"],
        "T-JEPA, 4x the steps",
    ),
    "scarf-3x": (
        "scarf",
        ["train.epochs=30", "train.min_steps=3810"],
        "SCARF, 3x the steps",
    ),
    "vime-3x": ("vime", ["train.epochs=30", "train.min_steps=3810"], "VIME, 3x the steps"),
    "vime-subtab": (
        "vime",
        ["method.mask_prob=0.75"],
        "SubTab-style: rebuild the whole row from a random quarter of its features",
    ),
    "scarf-c0.3": ("scarf", ["method.corruption_rate=0.3"], "SCARF, corruption rate 0.3"),
    "vime-m0.5": ("vime", ["method.mask_prob=0.5"], "VIME, mask probability 0.5"),
    "scarf-ft-plr": (
        "scarf",
        [
            "method.encoder=ft_transformer",
            "method.num_embedding=periodic",
            "method.frequency_sigma=3.0",
            "train.epochs=5",
            "train.min_steps=635",
        ],
        "SCARF on T-JEPA's encoder (FT-Transformer, periodic embeddings), 5 passes",
    ),
    "vime-ft-plr": (
        "vime",
        [
            "method.encoder=ft_transformer",
            "method.num_embedding=periodic",
            "method.frequency_sigma=3.0",
            "train.epochs=5",
            "train.min_steps=635",
        ],
        "VIME on T-JEPA's encoder (FT-Transformer, periodic embeddings), 5 passes",
    ),
    "vime-plr": (
        "vime",
        ["method.num_embedding=periodic", "method.frequency_sigma=3.0"],
        "VIME, MLP on periodic numeric embeddings (sigma 3)",
    ),
    "vime-plr-m0.5": (
        "vime",
        ["method.num_embedding=periodic", "method.frequency_sigma=3.0", "method.mask_prob=0.5"],
        "VIME, periodic numeric embeddings, mask probability 0.5",
    ),
    "vime-plr-3x": (
        "vime",
        [
            "method.num_embedding=periodic",
            "method.frequency_sigma=3.0",
            "train.epochs=30",
            "train.min_steps=3810",
        ],
        "VIME, periodic numeric embeddings, 3x the steps",
    ),
    "scarf-plr": (
        "scarf",
        ["method.num_embedding=periodic", "method.frequency_sigma=3.0"],
        "SCARF, MLP on periodic numeric embeddings (sigma 3)",
    ),
    "vime-wide": (
        "vime",
        ["method.hidden_dim=512", "method.out_dim=256"],
        "VIME, MLP of width 512 and 256-d embedding",
    ),
    "tjepa-mean": (
        "tjepa",
        ["method.pooling=mean"],
        "T-JEPA, feature tokens averaged (64-d embedding, not 1024-d)",
    ),
    "tjepa-reg8": ("tjepa", ["method.n_reg_tokens=8"], "T-JEPA, 8 regularisation tokens"),
    "tjepa-ctx": (
        "tjepa",
        ["method.min_context_share=0.5", "method.max_context_share=0.85"],
        "T-JEPA, larger context subsets (50-85% of the features)",
    ),
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()).get("results", {}) if path.exists() else {}


def paid(summary: list[dict[str, Any]]) -> bool:
    """Beats the control at 1% by more than two standard errors, no significant loss at 10%."""
    at = {round(item["fraction"], 4): item.get("gain_over_control") for item in summary}
    low, mid = at.get(0.01), at.get(0.1)
    if low is None or mid is None or not np.isfinite(low[1]):
        return False
    return low[0] > 2 * low[1] and mid[0] > -2 * mid[1]


def _at(res: dict[str, Any], fraction: float, key: str) -> tuple[float, float]:
    for item in res["summary"]:
        if math.isclose(item["fraction"], fraction) and key in item:
            return tuple(item[key])
    return (math.nan, math.nan)


def row_of(name: str, res: dict[str, Any]) -> list[str]:
    return [
        name,
        "`" + " ".join(res.get("overrides", [])) + "`" if res.get("overrides") else "(preset)",
        str(res["steps"]),
        f"{res['train_wall_seconds']:.0f}" if "train_wall_seconds" in res else "-",
        " / ".join(f"{_at(res, f, 'pretrained')[0]:.4f}" for f in (0.01, 0.1, 1.0)),
        _pm(_at(res, 0.01, "gain_over_control"), signed=True),
        _pm(_at(res, 0.1, "gain_over_control"), signed=True),
        _pm(_at(res, 1.0, "gain_over_control"), signed=True),
        _pm(_at(res, 0.01, "gain_over_baseline"), signed=True),
        _pm(_at(res, 0.1, "gain_over_baseline"), signed=True),
        "yes" if paid(res["summary"]) else "no",
    ]


HEADER = [
    "variant",
    "overrides",
    "steps",
    "pretrain wall s",
    "pretrained, 1% / 10% / 100%",
    "gain over control, 1%",
    "10%",
    "100%",
    "gain over best baseline, 1%",
    "10%",
    "paid",
]


def tables() -> None:
    results = load(OUT)
    order = [name for name in VARIANTS if name in results]
    rows = [row_of(name, results[name]) for name in order + sorted(set(results) - set(order))]
    write_table("tabular.md", "TABULAR-RECIPES", rows, HEADER)
    test = {
        key.removeprefix("tabular/"): res
        for key, res in load(TEST_OUT).items()
        if res["domain"] == "tabular"
    }
    rows = [row_of(name, res) for name, res in sorted(test.items())]
    write_table("tabular.md", "TABULAR-RECIPES-TEST", rows, HEADER)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="all", help=f"comma-separated of {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", type=int, default=5, help="label subsamples per fraction")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--force", action="store_true", help="rerun variants already measured")
    ap.add_argument("--tables", action="store_true", help="only rewrite the docs tables")
    args = ap.parse_args()
    if args.tables:
        tables()
        return
    import torch

    torch.set_num_threads(args.threads)
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name in load(OUT) and not args.force:
                print(f"{name}: already measured (--force reruns it)", flush=True)
                continue
            method, overrides, about = VARIANTS[name]
            res = run_one("tabular", method, args.seeds, Path(tmp), VALIDATION + overrides, name)
            res["overrides"], res["about"], res["seeds"] = overrides, about, args.seeds
            results = load(OUT)
            results[name] = res
            OUT.write_text(
                json.dumps(
                    {
                        "protocol": "validation: adult.data only, the plugin's seeded 80/20 "
                        "split scored (adult.test never seen); train.seed 0",
                        "machine": machine(("torch", "scikit-learn")),
                        "threads": args.threads,
                        "results": results,
                    },
                    indent=2,
                )
                + "\n"
            )
            print(f"{name}: {row_of(name, res)}", flush=True)
            tables()


if __name__ == "__main__":
    main()
