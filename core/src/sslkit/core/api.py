"""The Python API: ``pretrain``, ``evaluate`` and ``export``. The CLI only wraps these.

from sslkit.core import api
run = api.pretrain("tabular", overrides=["train.epochs=5"])
report = api.evaluate(run.run_dir)
api.export(run.run_dir, to="parquet")

Data already in memory (a pandas DataFrame for tabular and events, a torch_geometric ``Data``
for graphs) goes in with ``data=``; the run then asks for it again to evaluate or export::

run = api.pretrain("tabular", data=df, overrides=["data.target=churn"])
report = api.evaluate(run.run_dir, data=df)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sslkit.core.config import (
    RunConfig,
    absolute_paths,
    build_run_config,
    config_diff,
    load_toml,
    run_config_from_dict,
)

# environment, LoadedRun and load_run live in lower modules (export/card.py needs them without
# importing this one); api.environment, api.LoadedRun and api.load_run stay importable here
from sslkit.core.environment import environment
from sslkit.core.errors import UsageError
from sslkit.core.memory import (
    describe,
    is_memory_object,
    is_memory_path,
    load_memory,
    missing_data_error,
)
from sslkit.core.method_config import build_method
from sslkit.core.plugin import get_plugin, resolve
from sslkit.core.quiet import quiet
from sslkit.core.runs import LoadedRun, load_run  # noqa: F401
from sslkit.core.runs import open_run as _open_run


@dataclass
class RunResult:
    run_dir: Path
    config: RunConfig
    steps: int
    losses: list[float]
    metrics: dict[str, Any] = field(default_factory=dict)
    """The default task's metrics, evaluated right after training."""
    seconds: float = 0.0
    method: Any = field(default=None, repr=False)
    """The trained method, in memory (in eval mode), as it was when its last checkpoint was saved
    (unless the default task changed it)."""
    data: Any = field(default=None, repr=False)
    """The data it was trained on (the domain's ``DomainData``)."""
    verdict: str = ""
    """Did pretraining pay? The default task's probe at 100% of the labels on the embeddings,
    the untrained control and the no-pretraining baseline, in one sentence ("" when not
    assessed: no labels, or ``evaluate_default_task=False``)."""


def resolve_config(
    domain: str,
    method: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> RunConfig:
    """The fully resolved config a pretrain with these arguments would use."""
    plugin = get_plugin(domain)
    return build_run_config(
        plugin, method, preset=preset, config_file=config_file, options=options, overrides=overrides
    )


def pretrain(
    domain: str | RunConfig,
    method: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[str] | None = None,
    data: Any = None,
    evaluate_default_task: bool = True,
    log=print,
) -> RunResult:
    """Pretrain ``method`` of ``domain`` (or a ready :class:`RunConfig`) and save the run.

    ``data``: data already in memory (a pandas DataFrame for tabular and events, a
    torch_geometric ``Data`` for graphs), loaded by the plugin's ``from_memory`` hook; the
    saved config records ``data.path = "<in-memory DataFrame 1000x12>"``, and ``evaluate`` /
    ``export`` of the run need the data again (``data=``). A path here is ``data.path``.

    Under ``torchrun`` every process calls it; rank 0 writes the run folder. With
    ``train.resume`` it continues the run ``train.out/train.name`` (or, without a name, the
    latest run of this domain and method in ``train.out``) with the run's saved config:
    ``train.epochs``, ``train.max_steps``, ``train.steps`` or ``train.min_steps`` given
    again extend it, any other option given with
    a different value is a :class:`ConfigError`. Without ``train.resume`` a folder that holds
    a run with a checkpoint is an error; one that stopped before its first checkpoint is
    started over. ``train.out`` and data paths that exist are saved as absolute paths.
    """
    quiet()
    from sslkit.core.engine import ddp
    from sslkit.core.engine.trainer import fit

    cfg = (
        domain
        if isinstance(domain, RunConfig)
        else resolve_config(
            domain,
            method,
            preset=preset,
            config_file=config_file,
            options=options,
            overrides=overrides,
        )
    )
    plugin = get_plugin(cfg.domain)
    memory = data if is_memory_object(data) else None
    if data is not None:
        cfg = _with_data(plugin, cfg, data)
    cfg = absolute_paths(cfg)  # the saved config then works from any working directory
    env, created = ddp.setup(cfg.train.device)
    try:
        run, cfg, state = _prepare_run(plugin, cfg, env.device, log, memory=memory is not None)
        data, model = initial_method(cfg, state=state, data=memory)
        if env.is_main:
            _write_run_files(run, cfg, data, resumed=state is not None)
            if not cfg.train.quiet:
                log(f"run folder: {run.path}")
        result = fit(model, data, cfg, run, log=log)
        metrics: dict[str, Any] = {}
        verdict = ""
        if evaluate_default_task and plugin.default_task and env.is_main:
            from sslkit.core.evaluate.embeddings import TaskContext
            from sslkit.core.evaluate.report import run_task

            device = str(next(model.parameters()).device)
            ctx = TaskContext(run.path, cfg, data, model, device=device)
            metrics = run_task(plugin, ctx, plugin.default_task)
            record: dict[str, Any] = {"task": plugin.default_task, "metrics": metrics}
            if "skipped" not in metrics:
                record.update(_assess(plugin, ctx, quick=True, task_metrics=metrics))
                verdict = record["payoff"].get("verdict", {}).get("line", "")
            run.write_json("default_task.json", record)
    finally:
        ddp.teardown(created)
    model.eval()
    return RunResult(
        run.path, cfg, result.steps, result.losses, metrics, result.seconds, model, data, verdict
    )


def initial_method(
    cfg: RunConfig, state: dict[str, Any] | None = None, data: Any = None
) -> tuple[Any, Any]:
    """``(data, method)`` as :func:`pretrain` starts them: the data loaded (preprocessing fitted,
    or restored from ``state``) and the method built from ``cfg.train.seed``, so its weights are
    the ones pretraining starts from (the untrained control of a benchmark). ``data``: an
    in-memory object, loaded by the plugin's ``from_memory`` hook instead of ``cfg.data.path``."""
    from sslkit.core.engine.trainer import seed_everything

    plugin = get_plugin(cfg.domain)
    path = getattr(cfg.data, "path", None)
    if is_memory_object(data):
        if hasattr(cfg.data, "path") and not is_memory_path(path):
            cfg = _with_data(plugin, cfg, data)
    elif is_memory_path(path):
        run = Path(cfg.train.out) / cfg.train.name if cfg.train.name else None
        raise missing_data_error(
            f"the run {run}" if run else "this config's run", path, resume=cfg.train.resume
        )
    seed_everything(cfg.train.seed)  # the same initial weights on every rank and every run
    if is_memory_object(data):
        loaded = load_memory(plugin, data, cfg.data, state)
    else:
        loaded = resolve(plugin.load_data)(cfg.data, state=state)
    return loaded, build_method(plugin, cfg.method, cfg.model, loaded)


def _with_data(plugin: Any, cfg: RunConfig, data: Any) -> RunConfig:
    """``cfg`` with ``data.path`` naming ``data``: the path given, or :func:`describe` of an
    in-memory object (checked: the plugin has a ``from_memory`` hook, no data.path given too)."""
    if not hasattr(cfg.data, "path"):
        raise UsageError(f"domain {plugin.name!r} has no data.path option to give data= to")
    if "data.path" in cfg.explicit and cfg.data.path and cfg.data.path != str(data):
        raise UsageError(
            f"data is given twice: data= and data.path={cfg.data.path!r}; give one of them"
        )
    if not is_memory_object(data):
        return replace(cfg, data=replace(cfg.data, path=str(data)))
    if getattr(plugin, "from_memory", None) is None:
        load_memory(plugin, data, cfg.data)  # the UsageError naming the domain
    return replace(cfg, data=replace(cfg.data, path=describe(data)))


# options that may differ when a run is resumed; everything else comes from its config.toml
_RESUME_OPTIONS = ("device", "num_workers", "quiet", "progress", "tensorboard", "resume", "out")
# options that, passed with --resume, extend the run (a longer schedule from the checkpoint on)
_EXTEND_OPTIONS = ("epochs", "max_steps", "steps", "min_steps")


def _prepare_run(
    plugin: Any, cfg: RunConfig, device, log, *, memory: bool = False
) -> tuple[Any, RunConfig, dict | None]:
    """(run folder, config, saved data state or None); rank 0 creates the folder, the other
    ranks learn whether that worked (one error on every rank, no hang). ``memory``: the data
    was given in memory (a resumed run trained on in-memory data needs it)."""
    from sslkit.core import distributed as D
    from sslkit.core.engine.ddp import agree
    from sslkit.core.engine.rundir import DATA_STATE, RunDir
    from sslkit.core.errors import RunError

    tc = cfg.train
    error: Exception | None = None
    run = None
    try:
        if tc.resume:
            run = (
                RunDir.create(tc.out, tc.name, resume=True)
                if tc.name
                else RunDir.latest(tc.out, cfg.domain, cfg.method)
            )
        elif D.is_main():
            name = tc.name or f"{cfg.domain}-{cfg.method}"
            run = RunDir.create(tc.out, name, log=None if tc.quiet else log)
        else:
            run = RunDir(Path(tc.out) / (tc.name or f"{cfg.domain}-{cfg.method}"))
    except RunError as exc:
        error = exc
    if agree([float(error is not None)], device)[0] > 0:
        raise error or RunError("rank 0 could not prepare the run folder; see its error")
    assert run is not None
    if not tc.resume:
        return run, cfg, None
    saved = run_config_from_dict(plugin, load_toml(run.config), str(run.config))
    extend = _resume_changes(plugin, saved, cfg, run.path)
    now = {k: getattr(tc, k) for k in _RESUME_OPTIONS}
    merged = replace(saved, train=replace(saved.train, **now, **extend, name=run.path.name))
    saved_path = getattr(saved.data, "path", None)
    if not memory and is_memory_path(saved_path):
        raise missing_data_error(f"the run {run.path}", saved_path, resume=True)
    if D.is_main() and extend:  # the longer schedule becomes the run's config
        _write_config(run, replace(saved, train=replace(saved.train, **extend)))
    if D.is_main() and not tc.quiet:
        changes = "".join(
            f"; train.{k} {getattr(saved.train, k)} -> {v}" for k, v in extend.items()
        )
        log(f"resuming {run.path} with its saved config ({run.config.name}){changes}")
    return run, merged, run.read_json(DATA_STATE)


def _resume_changes(plugin: Any, saved: RunConfig, cfg: RunConfig, path: Path) -> dict[str, Any]:
    """The train.epochs / train.max_steps passed with --resume (they extend the run); a
    ConfigError if any other passed option differs from the run's saved config."""
    from sslkit.core.errors import ConfigError

    passed = set(cfg.explicit) | set(config_diff(build_run_config(plugin, cfg.method), cfg))
    if cfg.method != saved.method:
        if "run.method" in passed or any(k.startswith("method.") for k in passed):
            raise ConfigError(
                f"--resume: the run {path} is method {saved.method!r}, not {cfg.method!r}; drop "
                "--method and the method's options, or start a new run (another --name)"
            )
        passed = {k for k in passed if k.startswith(("data.", "train."))}  # the run's method
    free = {f"train.{k}" for k in (*_RESUME_OPTIONS, "name")}
    extend = {f"train.{k}" for k in _EXTEND_OPTIONS}
    differ = {
        k: v
        for k, v in config_diff(absolute_paths(saved), cfg).items()
        if k in passed and k not in free
    }
    wrong = {k: v for k, v in differ.items() if k not in extend}
    if wrong:
        listed = ", ".join(f"{k} (saved {a!r}, passed {b!r})" for k, (a, b) in wrong.items())
        raise ConfigError(
            f"--resume continues {path} with its saved config, but these options differ from "
            f"it: {listed}; only train.epochs, train.max_steps, train.steps and train.min_steps can "
            "change on resume (to extend it): drop "
            "the others, or start a new run (another --name) to train with them"
        )
    return {k.removeprefix("train."): b for k, (_, b) in differ.items()}


def _write_config(run: Any, cfg: RunConfig) -> None:
    from sslkit.core.engine.rundir import atomic_write_text
    from sslkit.core.errors import RunError

    try:
        atomic_write_text(run.config, cfg.to_toml())
    except OSError as exc:
        raise RunError(
            f"cannot write the run folder {run.path}: {exc.strerror or exc}; choose a writable --out"
        ) from None


def _write_run_files(run: Any, cfg: RunConfig, data: Any, *, resumed: bool) -> None:
    """config.toml, environment.json, info.json, data_state.json (a fresh run's config only)."""
    from sslkit.core.errors import RunError

    try:
        if not resumed:
            _write_config(run, cfg)
            run.write_json("info.json", data.info)
            run.write_json("data_state.json", data.state())
        run.write_json("environment.json", environment())
    except OSError as exc:
        raise RunError(
            f"cannot write the run folder {run.path}: {exc.strerror or exc}; choose a writable --out"
        ) from None


def evaluate(
    run_dir: str | Path,
    task: str | list[str] | None = None,
    *,
    data: Any = None,
    out: str | Path | None = None,
    device: str = "cpu",
    projection: str = "pca",
    batch_size: int = 1024,
    control: bool = True,
    log=None,
) -> dict[str, Any]:
    """Evaluate a run's frozen embeddings: every generic and plugin task but those run on request
    (or ``task``: names, or ``"all"``), then
    ``report.json``, ``report.md`` and PNG plots in ``out`` (default ``<run>/report``).

    ``control`` (when the plugin's default task is evaluated and the data has labels): also
    evaluate the default task on the untrained control (the same encoder, same seed), score the
    task's no-pretraining baseline, draw the label-efficiency curve (1%, 10%, 100% of the
    training labels) and put the verdict at the top of the report
    (:mod:`sslkit.core.evaluate.payoff`).

    ``data``: other data than the run's (a path, or an in-memory object as ``pretrain`` takes),
    preprocessed as in training; required for a run pretrained on in-memory data.

    ``log(task, metrics)`` is called as each task finishes. Returns the report (with
    ``folder``)."""
    quiet()
    from sslkit.core.engine.device import select_device
    from sslkit.core.evaluate.embeddings import TaskContext
    from sslkit.core.evaluate.report import (
        check_tasks,
        evaluate_tasks,
        make_plots,
        on_request,
        write_report,
    )

    if projection not in ("pca", "tsne"):
        raise UsageError(f"unknown projection {projection!r}; available: pca, tsne")
    device = str(select_device(device))  # a UsageError naming --device when it is not here
    opened = _open_run(run_dir)
    tasks = [task] if isinstance(task, str) else (list(task) if task else None)
    check_tasks(opened[1], tasks)
    loaded = load_run(run_dir, data=data, device=device, _opened=opened)
    ctx = TaskContext(loaded.run_dir, loaded.config, loaded.data, loaded.method, device, batch_size)
    results = evaluate_tasks(loaded.plugin, ctx, tasks, log=log)
    default = loaded.plugin.default_task
    assessed = (
        _assess(loaded.plugin, ctx, log, task_metrics=results.get(default))
        if control and default in results and "skipped" not in results[default]
        else {}
    )
    report: dict[str, Any] = {
        "run": str(loaded.run_dir),
        "domain": loaded.config.domain,
        "method": loaded.config.method,
        "step": loaded.checkpoint.get("step"),
        "data": (describe(data) if is_memory_object(data) else str(data) if data else "")
        or getattr(loaded.config.data, "path", "")
        or "(the plugin's sample)",
        "labels": (f"yes ({loaded.data.task_kind()})" if loaded.data.has_labels() else "none"),
        "embedding_dim": int(loaded.method.embed_dim),
        **_spaces_fact(loaded.method),
        **assessed,
        "tasks": results,
        "not_run": [n for n in on_request(loaded.plugin) if n not in results],
    }
    folder = Path(out) if out else loaded.run_dir / "report"

    def plots(tmp: Path):
        names, training = make_plots(
            ctx, tmp, projection=projection, metrics_path=loaded.run_dir / "metrics.jsonl"
        )
        report["splits"] = {k: len(v.X) for k, v in ctx._cache.items()}
        if "payoff" in assessed:
            from sslkit.core.evaluate.control import write_curve

            names = [*names, *write_curve(assessed["payoff"], tmp)]
        return names, training

    descriptions = {n: s.summary for n, s in loaded.plugin.tasks.items() if s.summary}
    write_report(folder, report, plot_fn=plots, descriptions=descriptions)
    report["folder"] = str(folder)
    return report


def _assess(plugin: Any, ctx: Any, log=None, *, quick: bool = False,
            task_metrics: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """``{"payoff": ...}``: the default task's probe on the embeddings, the untrained control
    and the baseline (:func:`sslkit.core.evaluate.control.assess`); ``quick`` (the end of
    ``pretrain``): only at 100% of the labels. A default task without labels that scored the
    control and its baseline itself (a ``payoff`` section in its metrics, the same form:
    ``metric``, ``verdict.line``, ``rows``; e.g. recommendation) gives that section."""
    from sslkit.core.evaluate.control import assess, control_context

    own = (task_metrics or {}).get("payoff")
    if isinstance(own, dict) and "verdict" in own:
        if log is not None:
            log("did pretraining pay", {"verdict": own["verdict"]["line"]})
        return {"payoff": own}

    try:
        control = control_context(ctx)
        if quick:
            return {"payoff": assess(plugin, ctx, control, fractions=(1.0,), seeds=1)}
        section = assess(plugin, ctx, control)
    except (ValueError, RuntimeError) as exc:  # a split the probes cannot score: say so
        return {"payoff": {"skipped": f"could not compare with the control and baseline: {exc}"}}
    if log is not None and "verdict" in section:
        log("did pretraining pay", {"verdict": section["verdict"]["line"]})
    return {"payoff": section}


def _spaces_fact(method: Any) -> dict[str, Any]:
    """``{"spaces": [...]}`` for a method with several embedding spaces (generic tasks and
    plots use the first, its default), else nothing."""
    from sslkit.core.engine.method import method_spaces

    spaces = method_spaces(method)
    return {"spaces": list(spaces)} if spaces else {}


def export(
    run_dir: str | Path,
    *,
    to: str = "parquet",
    data: Any = None,
    out: str | Path | None = None,
    dim: int | None = None,
    overwrite: bool = False,
    batch_size: int = 4096,
    device: str = "cpu",
    space: str | None = None,
    **options: Any,
) -> Path:
    """Export a run's embeddings (parquet, npy, faiss) or its encoder (onnx, safetensors) to
    ``out`` (default ``<run>/export/<format>``); returns the output folder. ``space``: for a
    method with several embedding spaces (users and items), the one to export (default: its
    first; the output then defaults to ``<run>/export/<space>/<format>``, and the manifest and
    model card name the space); an unknown space is a UsageError listing them. ``data``: other
    data than the run's (a path or an in-memory object, as :func:`evaluate`). FAISS options:
    ``index`` (flat, ivf, hnsw), ``metric`` (cosine, ip), ``nlist``, ``nprobe``, ``hnsw_m``,
    ``ef_search``. Under torchrun every rank calls this. Every argument, the run folder
    and its checkpoint are checked before any data is read, and the output appears only when
    complete (a temporary folder renamed at the end)."""
    quiet()
    from sslkit.core.export.request import check_request, export_device, target_folder
    from sslkit.core.export.run import export_run

    check_request(to, options)
    opened = _open_run(run_dir)
    target_folder(opened[0].path, to, out, overwrite, space)
    device = export_device(device)
    loaded = load_run(run_dir, data=data, device=device, _opened=opened)
    return export_run(
        loaded,
        to=to,
        out=out,
        dim=dim,
        overwrite=overwrite,
        batch_size=batch_size,
        device=device,
        space=space,
        **options,
    )
