"""The ``sslkit`` command line. Importing this module imports neither torch nor any plugin."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import click
import typer

from sslkit.core.export import formats as export_formats

app = typer.Typer(
    name="sslkit",
    help="Applied self-supervised learning: pretrain encoders on your data, evaluate and export embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        import importlib.metadata as md

        typer.echo(f"sslkit {md.version('sslkit-cli')} (core {md.version('sslkit-core')})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")] = False,
) -> None:
    if debug:
        os.environ["SSLKIT_DEBUG"] = "1"


@app.command()
def plugins() -> None:
    """Installed domains with their methods, data sets and versions; broken ones with the reason."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from sslkit.core.plugin import entries, limit_note

    table = Table(title="sslkit plugins")
    for col in ("domain", "distribution", "version", "methods", "data sets", "tasks", "status"):
        table.add_column(col, overflow="fold")  # wrap long names and errors, never cut them
    found = entries()
    for name, entry in found.items():
        plugin = entry.load()
        if plugin is None:
            table.add_row(
                name,
                entry.distribution,
                entry.version,
                "",
                "",
                "",
                f"[red]broken: {escape(str(entry.error))}[/red]",
            )
            continue
        methods = ", ".join(f"{m}*" if m == plugin.default_method else m for m in plugin.methods)
        table.add_row(
            name,
            entry.distribution,
            entry.version,
            methods,
            ", ".join(plugin.datasets),
            ", ".join(plugin.tasks),
            "ok",
        )
    if found:
        Console(width=max(100, Console().width)).print(table)
    note = limit_note()  # what SSLKIT_PLUGINS hides
    if note or not found:
        typer.echo(note or 'no sslkit plugins installed (pip install "sslkit[tabular]")')


@app.command()
def datasets(domain: Annotated[str, typer.Argument(help="A domain, e.g. tabular.")]) -> None:
    """Data sets a domain can load by name (the embedded sample first)."""
    from rich.console import Console
    from rich.table import Table

    from sslkit.core.plugin import get_plugin

    plugin = get_plugin(domain)
    table = Table(title=f"{domain} data sets")
    for col in ("name", "rows", "license", "source", "summary"):
        table.add_column(col, overflow="fold")
    for spec in plugin.datasets.values():
        table.add_row(spec.name, spec.rows, spec.license, spec.source, spec.summary)
    Console(width=max(100, Console().width)).print(table)


@app.command()
def presets(
    domain: Annotated[str, typer.Argument(help="A domain, e.g. tabular.")],
    method: Annotated[str | None, typer.Option("--method", "-m", help="Only this method.")] = None,
    show: Annotated[str | None, typer.Option("--show", help="Print this preset's TOML.")] = None,
    copy: Annotated[
        str | None, typer.Option("--copy", help="Copy this preset to --to FILE to edit it.")
    ] = None,
    to: Annotated[Path | None, typer.Option("--to", help="Destination of --copy.")] = None,
) -> None:
    """List a domain's presets, print one, or copy one to a file you edit (then --config FILE)."""
    from sslkit.core.errors import UsageError
    from sslkit.core.plugin import get_plugin

    plugin = get_plugin(domain)
    spec = plugin.method(method)
    if show or copy:
        text = plugin.preset_text(spec.name, show or copy)
        if copy:
            if to is None:
                raise UsageError("--copy needs --to FILE")
            if to.exists():
                raise UsageError(f"{to} already exists; choose another --to")
            use = f"sslkit pretrain {domain}"
            if spec.name != plugin.method(None).name:
                use += f" --method {spec.name}"
            header = (
                f"# preset {copy} of {domain}/{spec.name}; use with: {use} --config {to}\n"
                f'[run]\ndomain = "{domain}"\nmethod = "{spec.name}"\n\n'
            )
            try:
                to.write_text(header + text, encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"--to {to}: cannot write it ({exc.strerror or exc}); choose a writable path"
                ) from None
            typer.echo(f"wrote {to}")
        else:
            typer.echo(text)
        return
    for name in [spec.name] if method else list(plugin.methods):
        names = plugin.preset_names(name)
        typer.echo(
            f"{domain}/{name}: {', '.join(names) if names else '(no presets; the defaults of --help)'}"
        )


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by `sslkit pretrain`.")],
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            "-t",
            help="Only these tasks (repeatable): representation, linear-probe, knn-probe, "
            "retrieval, or one of the domain's; `all` adds the tasks run only on request "
            "(the report names them).",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", help="Evaluate on this data instead (training preprocessing reused)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: <run>/report).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:N, mps.")] = "cpu",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per embedding batch.")
    ] = 1024,
    projection: Annotated[
        str, typer.Option("--map", help="2-D map of the embeddings: pca or tsne.")
    ] = "pca",
    control: Annotated[
        bool,
        typer.Option(
            "--control/--no-control",
            help="Also score the untrained control (same encoder, same seed) and the domain's "
            "no-pretraining baseline on the default task, with a label-efficiency curve and a "
            "verdict (on by default).",
        ),
    ] = True,
) -> None:
    """Evaluate a run's frozen embeddings: report.json, report.md and PNG plots."""
    from sslkit.cli.output import metrics_line
    from sslkit.core import api

    def show(name: str, metrics: dict) -> None:
        if "verdict" in metrics:
            typer.echo(metrics["verdict"])
            return
        typer.echo(metrics_line(name, metrics))

    report = api.evaluate(
        run_dir,
        task or None,
        data=data,
        out=out,
        device=device,
        batch_size=batch_size,
        projection=projection,
        control=control,
        log=show,
    )
    typer.echo(f"report written to {report['folder']}/report.md")


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run folder made by `sslkit pretrain`.")],
    to: Annotated[
        str,
        typer.Option("--to", metavar=export_formats.metavar(), help=export_formats.help_text()),
    ] = "parquet",
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Data to embed (default: the run's data).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: <run>/export/<format>).")
    ] = None,
    dim: Annotated[
        int | None, typer.Option("--dim", help="Nested Matryoshka size to export.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per batch.")] = 4096,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, auto, mps.")] = "cpu",
    index: Annotated[
        str | None,
        typer.Option("--index", help="FAISS index: flat (default, exact), ivf or hnsw."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="FAISS similarity: cosine (default; vectors normalised) or ip."
        ),
    ] = None,
    space: Annotated[
        str | None,
        typer.Option(
            "--space",
            help="Embedding space to export, for a method with several (e.g. user, item); "
            "default: its first.",
        ),
    ] = None,
) -> None:
    """Export embeddings (or the encoder) for production retrieval and recommendation.

    Under torchrun (`torchrun --nproc-per-node N -m sslkit export ...`) each rank writes its
    own part files and rank 0 the manifest."""
    import json

    from sslkit.core import api
    from sslkit.core.distributed import is_main

    target = api.export(
        run_dir,
        to=to,
        data=data,
        out=out,
        dim=dim,
        overwrite=overwrite,
        batch_size=batch_size,
        device=device,
        index=index,
        metric=metric,
        space=space,
    )
    if not is_main():
        return
    manifest = json.loads((Path(target) / "manifest.json").read_text(encoding="utf-8"))
    rows = manifest.get("rows")
    speed = (
        f" ({manifest['rows_per_second']:.0f} rows/s)" if manifest.get("rows_per_second") else ""
    )
    what = f"{rows} rows of {manifest['embedding_dim']}-d embeddings" if rows is not None else to
    if manifest.get("space"):
        what += f" of space {manifest['space']!r}"
        if manifest.get("space_default"):
            what += f" (the default of {', '.join(manifest['spaces'])}; choose with --space)"
    typer.echo(f"exported {what} to {target}{speed}")


def command() -> click.Group:
    """The click group behind ``sslkit`` (Typer app + the lazily built ``pretrain`` group)."""
    from sslkit.cli.pretrain import pretrain_group

    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    group.add_command(pretrain_group, "pretrain")
    return group


def run(argv: list[str] | None = None) -> int:
    """Console-script entry: user errors print one line and exit 2 (``--debug`` shows more)."""
    from sslkit.core.quiet import quiet

    quiet()  # third-party warnings and log lines a user cannot act on stay off the terminal
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is an option of `sslkit` itself: only before the command (`sslkit --debug
    # pretrain ...`); taken out here so that it also counts when parsing fails
    lead = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    debug = "--debug" in args[:lead] or os.environ.get("SSLKIT_DEBUG") == "1"
    args = [a for i, a in enumerate(args) if i >= lead or a != "--debug"]
    try:
        command().main(args=args, prog_name="sslkit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        from sslkit.core.errors import SSLKitError

        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, SSLKitError):
            click.echo(f"error: {exc}", err=True)
            return exc.exit_code
        if not debug:
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} "
                "(run `sslkit --debug ...` for the traceback)",
                err=True,
            )
        return 1
    return 0


def entry() -> None:
    sys.exit(run())
