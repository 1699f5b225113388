"""Did pretraining pay? Every method's gain over its untrained control and over the domain's
best no-pretraining baseline at 1%, 10% and 100% of the training labels.

    uv run python benchmarks/label_efficiency.py                       # all domains, all methods
    uv run python benchmarks/label_efficiency.py --domains tabular --methods tjepa --seeds 5
    uv run python benchmarks/label_efficiency.py --domains tabular --methods scarf \
        --set train.epochs=30 --tag long                # a variant: stored as tabular/scarf[long]

For each domain (tabular: Adult; graphs: Cora, public split; events: Online Retail) and method:
pretrain once with the method's shipped default preset on the embedded data
(``sslkit.core.api.pretrain``, ``train.seed`` 0), then score with the default task's probe, on
the same seeded label subsamples (``--seeds``; stratified, at least one label per class; 100% is
one fit):

- the pretrained embeddings;
- the untrained control: the same encoder built with the same seed, not trained;
- the task's baseline on the raw input (tabular: the raw columns, probe and gradient boosting;
  graphs: the raw node features, probe; events: the hand-crafted aggregates, probe and gradient
  boosting).

Differences are paired (same subsample for all three); each is reported as mean ± its standard
error over the seeds. The goal: at 1% of the labels the default method beats its untrained
control by more than two standard errors. This is the engine of ``sslkit evaluate``'s
"Did pretraining pay?" section (:mod:`sslkit.core.evaluate.payoff`), run per method.

Writes ``benchmarks/results/label_efficiency.json`` (merging domains and methods run separately)
and a table per domain in ``docs/<domain>.md`` between ``LABEL-EFFICIENCY`` markers. ``--set
key=value`` (repeatable) adds overrides to every pretraining; with ``--tag NAME`` the result is
stored as ``<domain>/<method>[NAME]`` beside the default's and left out of the docs tables
(``benchmarks/tabular_recipes.py`` shows the tabular variants).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_table

OUT = RESULTS / "label_efficiency.json"
DOMAINS = {"tabular": "tabular.md", "graphs": "graphs.md", "events": "events.md"}
NODE_METHODS = ["dgi", "grace", "mvgrl", "bgrl", "graphmae"]


def methods_of(domain: str) -> list[str]:
    from sslkit.core.plugin import get_plugin

    if domain == "graphs":  # the node-level methods (Cora); hypergraph methods need other data
        return NODE_METHODS
    return list(get_plugin(domain).methods)


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from sslkit.core.evaluate.payoff import CONTROL, PRETRAINED, paired_gain

    out = []
    for fraction in sorted({r["fraction"] for r in rows}):
        at = [r for r in rows if r["fraction"] == fraction]
        mine = next(r for r in at if r["features"] == PRETRAINED)
        control = next((r for r in at if r["features"] == CONTROL), None)
        bases = [r for r in at if r["features"] not in (PRETRAINED, CONTROL)]
        best = max(bases, key=lambda r: r["mean"]) if bases else None
        item: dict[str, Any] = {
            "fraction": fraction,
            "labels": mine["labels"],
            "pretrained": [mine["mean"], mine["std"]],
        }
        if control is not None:
            item["control"] = [control["mean"], control["std"]]
            item["gain_over_control"] = paired_gain(mine, control)
        if best is not None:
            item["best_baseline"] = f"{best['features']} ({best['model']})"
            item["baseline"] = [best["mean"], best["std"]]
            item["gain_over_baseline"] = paired_gain(mine, best)
        out.append(item)
    return out


def key_of(domain: str, method: str, tag: str = "") -> str:
    return f"{domain}/{method}[{tag}]" if tag else f"{domain}/{method}"


def run_one(
    domain: str,
    method: str,
    seeds: int,
    root: Path,
    overrides: list[str] | tuple[str, ...] = (),
    tag: str = "",
) -> dict[str, Any]:
    from sslkit.core import api
    from sslkit.core.evaluate.control import assess, control_context
    from sslkit.core.evaluate.embeddings import TaskContext

    start, wall = time.process_time(), time.perf_counter()
    result = api.pretrain(
        domain,
        method,
        overrides=[
            f"train.out={root}",
            f"train.name={domain}-{method}{'-' + tag if tag else ''}",
            "train.seed=0",
            *overrides,
        ],
        evaluate_default_task=False,
        log=lambda *_: None,
    )
    train_cpu = time.process_time() - start
    train_wall = time.perf_counter() - wall
    plugin = api.get_plugin(domain)
    ctx = TaskContext(result.run_dir, result.config, result.data, result.method)
    section = assess(plugin, ctx, control_context(ctx), seeds=seeds)
    return {
        "domain": domain,
        "method": method,
        "steps": result.steps,
        "train_cpu_seconds": round(train_cpu, 1),
        "train_wall_seconds": round(train_wall, 1),
        "assess_seconds": section.get("seconds"),
        "metric": section["metric"],
        "probe": section["probe"],
        "rows": section["rows"],
        "summary": summarise(section["rows"]),
        "verdict": section["verdict"]["line"],
        **({"tag": tag} if tag else {}),
        **({"overrides": list(overrides)} if overrides else {}),
    }


def _pm(pair: list[float] | tuple[float, float], signed: bool = False) -> str:
    mean, spread = pair
    text = f"{mean:+.4f}" if signed else f"{mean:.4f}"
    return text if not np.isfinite(spread) or spread == 0 else f"{text} ± {spread:.4f}"


def table(results: dict[str, Any], domain: str) -> tuple[list[str], list[list[str]]]:
    header = [
        "method",
        "labels",
        "pretrained",
        "untrained control",
        "gain over control (± s.e.)",
        "> 2 s.e.",
        "best baseline",
        "gain over baseline (± s.e.)",
    ]
    rows = []
    for _key, res in sorted(results.items()):
        if res["domain"] != domain or res.get("tag"):
            continue
        for item in res["summary"]:
            gain = item.get("gain_over_control", (math.nan, math.nan))
            sure = (
                "n/a (one fit)"
                if not np.isfinite(gain[1])
                else ("yes" if gain[0] > 2 * gain[1] else "no")
            )
            rows.append(
                [
                    res["method"],
                    f"{item['fraction']:.0%} ({item['labels']})",
                    _pm(item["pretrained"]),
                    _pm(item["control"]) if "control" in item else "",
                    _pm(gain, signed=True),
                    sure,
                    f"{item.get('best_baseline', '')} {_pm(item['baseline'])}"
                    if "baseline" in item
                    else "",
                    _pm(item["gain_over_baseline"], signed=True)
                    if "gain_over_baseline" in item
                    else "",
                ]
            )
    return header, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", default=",".join(DOMAINS))
    ap.add_argument("--methods", default="all", help="comma-separated, or all")
    ap.add_argument("--seeds", type=int, default=5, help="label subsamples per fraction")
    ap.add_argument("--tables", action="store_true", help="only rewrite the docs tables")
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an override for every pretraining (repeatable)",
    )
    ap.add_argument("--tag", default="", help="store as <domain>/<method>[TAG], not in the docs")
    args = ap.parse_args()

    results: dict[str, Any] = {}
    if OUT.exists():
        results = json.loads(OUT.read_text()).get("results", {})
    if args.tables:
        for domain in args.domains.split(","):
            write_table(DOMAINS[domain], "LABEL-EFFICIENCY", *reversed(table(results, domain)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains.split(","):
            methods = methods_of(domain) if args.methods == "all" else args.methods.split(",")
            for method in methods:
                res = run_one(domain, method, args.seeds, Path(tmp), args.overrides, args.tag)
                key = key_of(domain, method, args.tag)
                if OUT.exists():  # merge with what other runs wrote meanwhile
                    results = json.loads(OUT.read_text()).get("results", {})
                results[key] = res
                print(f"{key}: {res['verdict']}", flush=True)
                for item in res["summary"]:
                    print(f"  {item}", flush=True)
                OUT.write_text(
                    json.dumps(
                        {"machine": machine(("torch", "scikit-learn")), "results": results},
                        indent=2,
                    )
                    + "\n"
                )
            if not args.tag:
                header, rows = table(results, domain)
                write_table(DOMAINS[domain], "LABEL-EFFICIENCY", rows, header)


if __name__ == "__main__":
    main()
