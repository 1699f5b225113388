"""``sslkit pretrain <domain>``: one sub-command per installed domain, built on demand.

The domain's command is made only when it is invoked (or its ``--help`` is asked for), from the
chosen method's config dataclass, so listing domains imports no plugin and no torch.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from typing import Any, Literal

import click

from sslkit.core.config import field_docs, field_types

ARGS_KEY = "sslkit.pretrain.args"

# named options that map onto config keys; everything else goes through --set
TRAIN_OPTIONS: dict[str, tuple[str, Any, str]] = {
    "epochs": ("train.epochs", int, "Passes over the data (replaces the preset's step budget)."),
    "max_steps": ("train.max_steps", int, "Cap the run at this many optimizer steps (0: none)."),
    "batch_size": ("train.batch_size", int, "Per-device batch size."),
    "lr": ("train.lr", float, "Learning rate."),
    "seed": ("train.seed", int, "Random seed."),
    "device": ("train.device", str, "auto, cpu, cuda, cuda:N or mps."),
    "precision": ("train.precision", click.Choice(["auto", "bf16", "fp32"]), "auto: bf16 on CUDA."),
    "out": ("train.out", str, "Folder holding run folders."),
    "name": ("train.name", str, "Run folder name (default: <domain>-<method>)."),
}


# options of a domain command that take no value (every other option takes one)
_FLAGS = {"--resume", "--quiet", "--evaluate", "--no-evaluate", "--print-config", "--help"}
_SHORT_FLAGS = {"q"}


def _peek(args: list[str], long: str = "--method", short: str = "-m") -> str | None:
    """The value of option ``long``/``short`` in ``args`` before click parses them (the last one
    wins, as in click): ``--method X``, ``--method=X``, ``-m X``, ``-mX`` and flag clusters such
    as ``-qmX``; values of other options (``--name -m``) are skipped, ``--`` ends the options."""
    found = None
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name == long:
                if eq:
                    found = value
                elif i < len(args):
                    found, i = args[i], i + 1
            elif not eq and name not in _FLAGS:
                i += 1  # the option's value
        elif arg.startswith("-") and len(arg) > 1:
            letters = arg[1:]
            for k, letter in enumerate(letters):
                if letter in _SHORT_FLAGS:
                    continue
                rest = letters[k + 1 :]
                value = rest if rest else (args[i] if i < len(args) else None)
                if not rest:
                    i += 1
                if "-" + letter == short:
                    found = value
                break
    return found


def _click_type(tp: Any) -> tuple[Any, bool]:
    """(click type, is_flag) for a config field type."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is Literal:
        return click.Choice([str(a) for a in typing.get_args(tp)]), False
    if origin in (typing.Union, __import__("types").UnionType) and len(args) == 1:
        return _click_type(args[0])
    if tp is bool:
        return click.BOOL, False
    if tp is int:
        return click.INT, False
    if tp is float:
        return click.FLOAT, False
    return click.STRING, False


def method_options(
    config_cls: type, taken: set[str], defaults: dict[str, Any]
) -> list[click.Option]:
    """Options of a method's config dataclass; ``defaults`` are the values a run would use
    (the dataclass defaults with the method's ``default`` preset applied)."""
    docs = field_docs(config_cls)
    types_ = field_types(config_cls)
    options = []
    for name, tp in types_.items():
        if name in taken:
            continue
        click_type, _ = _click_type(tp)
        default = defaults.get(name)
        shown = "" if default is dataclasses.MISSING else f" [default: {_show(default)}]"
        options.append(
            click.Option(
                [f"--{name.replace('_', '-')}", name],
                type=click_type,
                default=None,
                help=(docs.get(name, "") + shown).strip(),
                metavar=_metavar(tp),
            )
        )
    return options


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "(empty)"
    return str(value)


def _metavar(tp: Any) -> str | None:
    origin = typing.get_origin(tp)
    if origin in (tuple, list):
        return "A,B,..."
    return None


def common_options() -> list[click.Option]:
    opts = [
        click.Option(["--method", "-m"], default=None, help="SSL method (see `sslkit plugins`)."),
        click.Option(
            ["--data", "-d"],
            default=None,
            help="Data: a file, a folder or a data set name (default: the embedded sample).",
        ),
        click.Option(
            ["--preset", "-p"],
            default=None,
            help="A named preset of the method (see `sslkit presets <domain>`).",
        ),
        click.Option(
            ["--config", "-c", "config_file"],
            default=None,
            type=click.Path(dir_okay=False),
            help="A TOML config (sections [data], [train], [method]).",
        ),
        click.Option(
            ["--set", "-s", "overrides"],
            multiple=True,
            help="key=value override, repeatable (e.g. --set train.lr=0.001).",
        ),
        click.Option(
            ["--resume"],
            is_flag=True,
            default=False,
            help="Continue the run in --out/--name from its last checkpoint, with its saved "
            "config (--epochs/--max-steps may extend it; other options must match).",
        ),
        click.Option(["--quiet", "-q"], is_flag=True, default=False, help="No progress bar."),
        click.Option(
            ["--nproc-per-node"],
            type=int,
            default=1,
            help="Processes on this node (hands over to torch.distributed.run).",
        ),
        click.Option(
            ["--evaluate/--no-evaluate"],
            default=True,
            help="Run the domain's default task on the trained encoder (rank 0).",
        ),
        click.Option(
            ["--print-config"],
            is_flag=True,
            default=False,
            help="Print the resolved config as TOML and exit.",
        ),
    ]
    for name, (_, tp, help_) in TRAIN_OPTIONS.items():
        opts.append(
            click.Option([f"--{name.replace('_', '-')}", name], type=tp, default=None, help=help_)
        )
    return opts


def build_domain_command(domain: str, method: str | None) -> click.Command:
    from sslkit.core.plugin import get_plugin

    plugin = get_plugin(domain)
    spec = plugin.method(method)
    common = common_options()
    taken = {p.name for p in common if p.name}
    from sslkit.core.config import build_run_config

    resolved = build_run_config(plugin, spec.name)
    for option in common:
        key = TRAIN_OPTIONS.get(option.name or "", ("",))[0]
        if key.startswith("train."):
            option.help = f"{option.help} [default: {_show(getattr(resolved.train, key[6:]))}]"
    params = common + method_options(spec.config, taken, dataclasses.asdict(resolved.model))

    def callback(**kwargs: Any) -> None:
        given = kwargs.get("method")
        if given is not None and plugin.method(given).name != spec.name:
            from sslkit.core.errors import UsageError

            raise UsageError(
                f"--method {given} was read too late: the options were built for --method "
                f"{spec.name}; write it as --method {given} (or -m {given})"
            )
        run_pretrain(domain, spec.name, kwargs, list(spec.config.__dataclass_fields__))

    methods = ", ".join(plugin.methods)
    return click.Command(
        domain,
        params=params,
        callback=callback,
        help=f"{plugin.summary}\n\nMethods: {methods} (default {plugin.default_method}). "
        f"Options below are those of --method {spec.name}; pass --method X --help for another.",
        short_help=plugin.summary,
    )


def run_pretrain(
    domain: str, method: str, kwargs: dict[str, Any], method_fields: list[str]
) -> None:
    from rich.console import Console

    from sslkit.core import api

    options: dict[str, Any] = {}
    if kwargs.get("data") is not None:
        options["data.path"] = kwargs["data"]
    for name, (key, _, _) in TRAIN_OPTIONS.items():
        if kwargs.get(name) is not None:
            options[key] = kwargs[name]
    if kwargs.get("resume"):
        options["train.resume"] = True
    if kwargs.get("quiet"):
        options["train.quiet"] = True
    for name in method_fields:
        if kwargs.get(name) is not None:
            options[f"method.{name}"] = kwargs[name]
    cfg = api.resolve_config(
        domain,
        method if kwargs.get("method") else None,  # run.method is explicit only when passed
        preset=kwargs.get("preset"),
        config_file=kwargs.get("config_file"),
        options=options,
        overrides=list(kwargs.get("overrides") or ()),
    )
    console = Console()
    if kwargs.get("print_config"):
        click.echo(cfg.to_toml())
        return
    nproc = kwargs.get("nproc_per_node") or 1
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        ctx = click.get_current_context()
        hand_over_to_torchrun(nproc, ctx.meta.get(ARGS_KEY))
        return
    quiet = cfg.train.quiet
    result = api.pretrain(
        cfg,
        evaluate_default_task=kwargs.get("evaluate", True),
        log=(lambda *_: None) if quiet else console.print,
    )
    if result.metrics:
        from sslkit.core.distributed import is_main

        if is_main():
            from sslkit.cli.output import metrics_line

            click.echo(metrics_line(api.get_plugin(domain).default_task, result.metrics))
            if result.verdict:
                click.echo(result.verdict)
    click.echo(f"run saved to {result.run_dir}")


def hand_over_to_torchrun(nproc: int, args: list[str] | None = None) -> None:
    """Re-run this very command under ``torch.distributed.run`` with ``nproc`` processes.

    ``args`` are the words after ``sslkit`` (default: ``sys.argv[1:]``); ``--nproc-per-node``
    is dropped from them. Each process then trains one rank (gloo on CPU, NCCL on GPU).
    """
    argv = list(sys.argv[1:] if args is None else args)
    cleaned: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc-per-node":
            skip = True
            continue
        if arg.startswith("--nproc-per-node="):
            continue
        cleaned.append(arg)
    from torch.distributed.run import main as torchrun_main

    code = 0
    try:
        torchrun_main([f"--nproc-per-node={nproc}", "-m", "sslkit.cli", *cleaned])
    except Exception as exc:  # ChildFailedError: the ranks printed their own errors
        code = getattr(exc, "exit_code", None) or 1
        failures = getattr(exc, "failures", None) or {}
        for failure in failures.values():
            code = failure.exitcode if failure.exitcode and failure.exitcode > 0 else code
    if code:
        from sslkit.core.errors import RunError

        error = RunError(
            f"training under torch.distributed.run failed (exit code {code}); "
            "the processes' own errors are printed above"
        )
        error.exit_code = code
        raise error


class PretrainGroup(click.Group):
    """Lists installed domains from entry-point metadata; builds a domain's command on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from sslkit.core.plugin import entries

        return list(entries())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from sslkit.core.plugin import entries

        if name not in entries():
            return None
        return build_domain_command(name, None)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else None
        if name is None:
            return super().resolve_command(ctx, args)
        from sslkit.core.plugin import entries, unknown_domain

        found = entries()
        if name not in found:
            raise unknown_domain(name, found)
        ctx.meta[ARGS_KEY] = ["pretrain", *args]  # for --nproc-per-node's hand-over
        return name, build_domain_command(name, _peek(args[1:])), args[1:]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from sslkit.core.plugin import entries, limit_note

        rows = [(name, f"{e.distribution} {e.version}") for name, e in entries().items()]
        if rows:
            with formatter.section("Domains"):
                formatter.write_dl(rows)
        note = limit_note()  # what SSLKIT_PLUGINS hides
        if note:
            formatter.write_paragraph()
            formatter.write_text(note)


pretrain_group = PretrainGroup(
    "pretrain",
    help="Pretrain an encoder with a domain's SSL method: `sslkit pretrain <domain> [options]`.",
)
