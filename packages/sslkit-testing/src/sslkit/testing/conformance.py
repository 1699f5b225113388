"""``check_plugin``: every method of a plugin on every path a user takes.

For each method, on the plugin's tiny sample:

1. **export**: pretrain a few steps in this process, evaluate, export to every format and read
   each back against the embeddings of the model that was trained (still in memory);
2. **ddp**: the same run as two real processes (``torch.distributed.run``, gloo) with half the
   batch each: the per-step losses agree with the one-process run on the same global batch
   (their median within ``ddp_rtol``: the random views differ between the two runs), and both
   ranks end with identical weights;
3. **resume**: a real SIGTERM after a checkpoint, then ``train.resume``: every per-step loss
   equals the uninterrupted run's, exactly (CPU, one thread);

The ddp and resume runs of all the methods share their processes (one ``torchrun``, one
interrupted and one resuming process per plugin, :mod:`sslkit.testing.conformance_child`):
start-up, mostly importing torch and the plugin's libraries, is paid once per plugin.
4. **import**: importing the plugin module loads no torch (``sslkit plugins`` stays fast).
5. **bf16**: the same run under bf16 autocast (``train.precision=bf16``, what ``auto`` picks on
   CUDA), on CPU: every loss is finite and the first step's is the fp32 run's within
   ``BF16_RTOL`` (same weights, same batch). It catches the dtype mixes that only autocast
   makes (an fp32 embedding added to bf16 activations, a sparse product with no bf16 kernel).

It prints one summary line per plugin ("conformance: tabular: 3 methods x 4 paths passed"),
also collected for pytest's terminal summary.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sslkit.testing.conformance_export import FORMATS, check_export

PATHS = ("export", "ddp", "resume", "import", "bf16")
BF16_RTOL = 0.05
STEPS = 4
DEFAULT_OVERRIDES = (
    f"train.max_steps={STEPS}",
    "train.epochs=1000",
    "train.batch_size=32",
    "train.quiet=true",
    "train.log_every=1",
    "train.checkpoint_every=1",
    "train.device=cpu",
)
SUMMARY: list[str] = []
"""The summary lines of this process' checks (printed by the sslkit-testing pytest plugin)."""


def check_plugin(
    plugin: Any,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    method_overrides: dict[str, list[str]] | None = None,
    methods: list[str] | None = None,
    workdir: str | Path | None = None,
    export_formats: tuple[str, ...] = FORMATS,
    paths: tuple[str, ...] = PATHS,
    tasks: list[str] | None = None,
    ddp_rtol: float = 0.15,
    atol: float = 1e-5,
) -> dict[str, dict[str, Any]]:
    """Run the conformance paths (``paths``) for every method (or ``methods``) of ``plugin``;
    returns each method's evaluation report. ``overrides`` select the tiny sample (e.g.
    ``data.max_rows=300``); ``method_overrides`` adds options for one method. Runs go to
    ``workdir`` (default: a temporary folder, removed at the end). ``tasks``: what ``evaluate``
    runs (default: the plugin's default task and the generic ``representation``). Every
    failure is an ``AssertionError`` naming the plugin, the method and the path."""
    from sslkit.core.plugin import Plugin, register, unregister

    assert isinstance(plugin, Plugin), f"{plugin!r} is not an sslkit Plugin"
    assert len(plugin.methods) > 0, f"plugin {plugin.name} registers no method"
    unknown = set(paths) - set(PATHS)
    assert not unknown, f"unknown conformance paths {sorted(unknown)}; known: {PATHS}"
    names = methods or list(plugin.methods)
    if tasks is None:
        tasks = list(dict.fromkeys(t for t in (plugin.default_task, "representation") if t))
    if "import" in paths:
        check_light_import(plugin)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sslkit-check-")))
        else:
            root = Path(workdir)
        register(plugin)
        stack.callback(unregister, plugin.name)
        reports, pending = {}, {}
        for name in names:
            # the step count last: the resume path stops halfway and needs steps after it
            sets = [
                *DEFAULT_OVERRIDES,
                *overrides,
                *(method_overrides or {}).get(name, []),
                f"train.max_steps={STEPS}",
            ]
            reports[name], pending[name] = _check_method(
                plugin, name, root, sets, export_formats, paths, tasks, atol
            )
        children = _check_children(plugin, root, pending, paths, ddp_rtol)
        for report in reports.values():
            report["conformance_seconds"].update(children)
    line = f"conformance: {plugin.name}: {len(names)} methods x {len(paths)} paths passed"
    line += f" ({', '.join(paths)}; export to {', '.join(export_formats)})"
    SUMMARY.append(line)
    print(line)
    return reports


def _check_method(
    plugin: Any,
    name: str,
    root: Path,
    sets: list[str],
    export_formats: tuple[str, ...],
    paths: tuple[str, ...],
    tasks: list[str],
    atol: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The export path of one method in this process; returns its report and what the ddp and
    resume runs of :func:`_check_children` compare with (the options, the per-step losses)."""
    import numpy as np
    import torch

    from sslkit.core import api
    from sslkit.core.config import build_run_config

    where = f"{plugin.name}/{name}"
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the child processes, so that resumed losses compare exactly
    try:
        cfg = build_run_config(
            plugin, name, overrides=[*sets, f"train.out={root}", f"train.name={name}"]
        )
        result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
    finally:
        torch.set_num_threads(threads)
    assert result.steps > 0, f"{where}: no optimizer step was taken"
    assert all(np.isfinite(result.losses)), f"{where}: non-finite loss {result.losses}"
    reference = step_losses(result.run_dir)
    batch = cfg.train.batch_size

    # the trained model's embeddings of every exported row, in order, before anything is reloaded
    trained = result.method.to("cpu").eval()
    ids, vectors = [], []
    with torch.no_grad():
        for b in result.data.export_batches(4096):
            ids.append(np.asarray(b.ids))
            vectors.append(trained.embed(b.inputs).float().numpy())
    ref_ids, ref = np.concatenate(ids), np.concatenate(vectors)

    _check_control(where, cfg, result.data)
    seconds = {"train": time.perf_counter() - start}
    # the control and the label-efficiency curve are proven by the report tests of each domain
    report = api.evaluate(result.run_dir, task=tasks, control=False)
    assert report["tasks"], f"{where}: evaluate ran no task"
    seconds["evaluate"] = time.perf_counter() - start - sum(seconds.values())
    if "export" in paths:
        loaded = api.load_run(result.run_dir)
        for fmt in export_formats:
            out = api.export(result.run_dir, to=fmt, out=root / f"{name}-{fmt}")
            assert (out / "model_card.json").is_file(), f"{where}: {fmt} export wrote no card"
            check_export(out, fmt, loaded, ref_ids, ref, atol=atol, trained=trained)
            seconds[fmt] = time.perf_counter() - start - sum(seconds.values())
    if "bf16" in paths:
        _check_bf16(plugin, name, root, sets, reference)
        seconds["bf16"] = time.perf_counter() - start - sum(seconds.values())
    report["conformance_seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    return report, {"sets": sets, "reference": reference, "batch": batch}


def _check_bf16(plugin: Any, name: str, root: Path, sets: list[str], reference) -> None:
    """The run again under bf16 autocast: finite losses, the first close to fp32's."""
    import math

    from sslkit.core import api
    from sslkit.core.config import build_run_config

    where = f"{plugin.name}/{name} under bf16 autocast"
    # two steps: the first compared with fp32, the second after a bf16 backward and update
    overrides = [*sets, "train.precision=bf16", "train.max_steps=2", f"train.out={root}",
                 f"train.name={name}-bf16"]  # fmt: skip
    try:
        cfg = build_run_config(plugin, name, overrides=overrides)
        result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
    except Exception as err:  # the error names the op; the path says where
        raise AssertionError(f"{where}: {type(err).__name__}: {err}") from err
    losses = step_losses(result.run_dir)
    assert losses and all(math.isfinite(v) for v in losses.values()), (
        f"{where}: non-finite loss {_fmt(losses)}"
    )
    first = min(reference)
    fp32, bf16 = reference[first], losses.get(first, float("nan"))
    assert abs(bf16 - fp32) <= BF16_RTOL * max(abs(fp32), 1e-3), (
        f"{where}: step {first} loss {bf16:.5g}, fp32 {fp32:.5g} (rtol {BF16_RTOL})"
    )


def _check_children(
    plugin: Any, root: Path, pending: dict[str, dict[str, Any]], paths: tuple[str, ...], rtol: float
) -> dict[str, float]:
    """The ddp and resume paths of every method: the two-process runs (one ``torchrun``) and the
    interrupted runs (one process) start together (3 processes on 2 cores spend most of their
    start importing torch), then one process resumes every interrupted run. Returns the seconds
    of each path, all the methods together."""
    start, seconds = time.perf_counter(), {}
    ddp = stopped = None
    if "ddp" in paths:
        for name, p in pending.items():
            assert p["batch"] % 2 == 0, f"{plugin.name}/{name}: train.batch_size is not even"
        runs = [
            {
                "method": n,
                "name": f"{n}-ddp",
                "sets": [*p["sets"], f"train.batch_size={p['batch'] // 2}"],
            }
            for n, p in pending.items()
        ]
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc-per-node", "2"]  # fmt: skip
        ddp = _start(torchrun, plugin, root, "ddp", runs)
    if "resume" in paths:
        runs = [
            {"method": n, "name": f"{n}-resume", "sets": p["sets"], "stop_after": _stop(p)}
            for n, p in pending.items()
        ]
        stopped = _start([], plugin, root, "stopped", runs)
    if ddp is not None:
        _wait(ddp, plugin, "under 2-process DDP")
        for name, p in pending.items():
            _check_ddp(plugin, name, root, p["batch"], p["reference"], rtol)
        seconds["ddp"] = time.perf_counter() - start
    if stopped is not None:
        _wait(stopped, plugin, "interrupted by SIGTERM")
        runs = [
            {"method": n, "name": f"{n}-resume", "sets": [*p["sets"], "train.resume=true"]}
            for n, p in pending.items()
        ]
        for name, p in pending.items():
            _check_stopped(plugin, name, root, p["reference"], _stop(p))
        _wait(_start([], plugin, root, "resumed", runs), plugin, "resumed after SIGTERM")
        for name, p in pending.items():
            _check_resume(plugin, name, root, p["reference"])
        seconds["resume"] = time.perf_counter() - start - sum(seconds.values())
    return {k: round(v, 2) for k, v in seconds.items()}


def _stop(pending: dict[str, Any]) -> int:
    return max(1, len(pending["reference"]) // 2)


def _check_control(where: str, cfg: Any, data: Any) -> None:
    """The untrained control that ``sslkit evaluate`` scores has exactly the weights the run
    started from (so its gain is what training added)."""
    from sslkit.core import api
    from sslkit.core.evaluate.control import untrained_method

    initial = api.initial_method(cfg)[1].state_dict()
    control = untrained_method(cfg, data).state_dict()
    assert initial.keys() == control.keys(), f"{where}: the control has other weights"
    differ = [k for k in initial if not _equal(initial[k], control[k])]
    assert not differ, (
        f"{where}: the untrained control differs from the run's initial weights in {differ[:3]}: "
        "build every weight from the global torch generator after seeding, not while loading data"
    )


def _check_ddp(plugin, name, root: Path, batch: int, reference, rtol: float) -> None:
    from safetensors.torch import load_file

    where = f"{plugin.name}/{name} under 2-process DDP"
    run = f"{name}-ddp"
    engine = json.loads((root / run / "engine.json").read_text())
    assert engine["world_size"] == 2, f"{where}: ran with world size {engine['world_size']}"
    assert engine["lr_plan"]["global_batch"] == batch, f"{where}: global batch differs"
    two = step_losses(root / run)
    assert sorted(two) == sorted(reference), f"{where}: steps {sorted(two)} != {sorted(reference)}"
    # the views are random and drawn differently by one process and by two: the median loss
    # over the steps (robust to one step's outlier batch) agrees within rtol; a loss that
    # forgot the other rank's negatives, or is scaled by the world size, is off in every step
    one_mid, two_mid = _median(reference.values()), _median(two.values())
    assert abs(two_mid - one_mid) <= rtol * abs(one_mid) + 1e-3, (
        f"{where}: median loss {two_mid:.5g} over steps {_fmt(two)}; one process on the same "
        f"global batch: {one_mid:.5g} over {_fmt(reference)} (allowed ±{rtol:.0%})"
    )
    ranks = [load_file(str(root / f"{run}-rank{r}.safetensors")) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    differ = [k for k in ranks[0] if not _equal(ranks[0][k], ranks[1][k])]
    assert not differ, f"{where}: weights differ between the ranks after training: {differ[:5]}"


def _check_stopped(plugin, name, root: Path, reference, stop: int) -> None:
    where = f"{plugin.name}/{name} resumed after SIGTERM"
    run = f"{name}-resume"
    marker = root / f"{run}-stopped.json"
    assert marker.is_file(), f"{where}: SIGTERM after step {stop} did not stop the run"
    code = json.loads(marker.read_text())["exit_code"]
    assert code == 143, f"{where}: the stopped run's exit code is {code}, not 143"
    latest = json.loads((root / run / "checkpoints" / "latest.json").read_text())
    assert stop <= latest["step"] < len(reference), (
        f"{where}: SIGTERM after step {stop} left a checkpoint at step {latest['step']}"
    )


def _check_resume(plugin, name, root: Path, reference) -> None:
    where = f"{plugin.name}/{name} resumed after SIGTERM"
    resumed = step_losses(root / f"{name}-resume")
    assert resumed == reference, (
        f"{where}: losses {resumed} differ from the uninterrupted run's {reference}"
    )


def _start(
    launcher: list[str], plugin: Any, root: Path, kind: str, runs: list[dict[str, Any]]
) -> subprocess.Popen:
    import os

    spec = root / f"conformance-{kind}.json"
    spec.write_text(json.dumps(runs))
    cmd = [*launcher] if launcher else [sys.executable]
    cmd += ["-m", "sslkit.testing.conformance_child", import_path(plugin), str(root), str(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(proc: subprocess.Popen, plugin: Any, path: str) -> None:
    try:
        out, err = proc.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    if proc.returncode != 0:
        # the child prints "run <name>" before each run: the last one is the run that failed
        started = [line[4:] for line in out.splitlines() if line.startswith("run ")]
        run = started[-1].rsplit("-", 1)[0] if started else "(before the first run)"
        raise AssertionError(
            f"{plugin.name}/{run} {path}: exit code {proc.returncode}\n{out[-2000:]}{err[-4000:]}"
        )


def _median(values: Any) -> float:
    import statistics

    return float(statistics.median(values))


def _fmt(losses: dict[int, float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for _, v in sorted(losses.items())) + "]"


def _equal(a: Any, b: Any) -> bool:
    import torch

    return a.shape == b.shape and bool(torch.equal(a, b))


def step_losses(run_dir: Path) -> dict[int, float]:
    """``{step: loss}`` from a run's ``metrics.jsonl`` (a resumed run's rewritten steps win)."""
    out: dict[int, float] = {}
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record and "step" in record:
            out[int(record["step"])] = float(record["loss"])
    return out


def import_path(plugin: Any) -> str:
    """``module:attribute`` of a module-level object that is ``plugin`` (child processes import
    it from there)."""
    found = [
        f"{module_name}:{attr}"
        for module_name, module in list(sys.modules.items())
        if module is not None
        for attr, value in list(vars(module).items())
        if value is plugin
    ]
    found.sort(key=lambda p: not p.startswith("sslkit."))  # the plugin's home, not a test's
    if found:
        return found[0]
    raise AssertionError(
        f"plugin {plugin.name} is not a module-level object; the ddp and resume paths start "
        "child processes that import it (pass paths=('export',) for an in-test plugin)"
    )


def check_light_import(plugin: Any) -> None:
    """Importing the plugin's module in a fresh interpreter loads no torch."""
    module = import_path(plugin).split(":")[0]
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torch_geometric')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", (
        f"importing {module} loads {done.stdout.strip()[:200]}: the plugin module must stay "
        "light (import heavy libraries inside the factories)"
    )
