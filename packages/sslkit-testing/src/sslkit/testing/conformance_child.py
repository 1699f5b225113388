"""The child processes of :func:`sslkit.testing.check_plugin`: one training run of one method,
as the CLI would start it, with the facts the parent compares written to ``OUT/NAME-*.json``.

``python -m sslkit.testing.conformance_child PLUGIN METHOD OUT NAME [--stop-after K] -- SETS``

- ``PLUGIN`` is the import path of the plugin object (``sslkit.tabular.plugin:plugin``); it is
  registered in this process, so a plugin under test needs no installed entry point.
- Under ``torch.distributed.run`` every rank trains and writes its weights
  (``NAME-rank<r>.safetensors``).
- ``--stop-after K`` sends this process a real SIGTERM at the end of optimizer step ``K``; the
  engine checkpoints and stops (exit code 143), as it would when a scheduler pre-empts a job.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any


def _plugin(path: str) -> Any:
    import importlib

    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr or "plugin")


def _stopping(build: Any, after: int) -> Any:
    """``build`` whose method SIGTERMs this process after optimizer step ``after``."""
    from sslkit.core.plugin import resolve

    def wrapped(cfg: Any, data: Any) -> Any:
        method = resolve(build)(cfg, data)
        inner = method.on_train_step_end

        def on_train_step_end(step: int, total: int) -> None:
            inner(step, total)
            if step + 1 == after:
                os.kill(os.getpid(), signal.SIGTERM)

        method.on_train_step_end = on_train_step_end
        return method

    return wrapped


def main(argv: list[str]) -> int:
    import dataclasses

    import torch
    from safetensors.torch import save_file

    from sslkit.core import api
    from sslkit.core.config import build_run_config
    from sslkit.core.engine.signals import RunInterrupted
    from sslkit.core.plugin import Registry, register

    parser = argparse.ArgumentParser()
    parser.add_argument("plugin")
    parser.add_argument("method")
    parser.add_argument("out")
    parser.add_argument("name")
    parser.add_argument("--stop-after", type=int, default=0)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.sets = argv[cut + 1 :]

    torch.set_num_threads(1)
    plugin = _plugin(args.plugin)
    if args.stop_after:
        spec = plugin.methods[args.method]
        spec = dataclasses.replace(spec, build=_stopping(spec.build, args.stop_after))
        others = [plugin.methods[n] for n in plugin.methods if n != args.method]
        plugin = dataclasses.replace(plugin, methods=Registry("method", [spec, *others]))
    register(plugin)
    sets = [*args.sets, f"train.out={args.out}", f"train.name={args.name}", "train.device=cpu"]
    cfg = build_run_config(plugin, args.method, overrides=sets)
    try:
        result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
    except RunInterrupted:
        return 143
    # the process group is gone after pretrain: the rank comes from torchrun's environment
    rank = os.environ.get("RANK", "0")
    state = {k: v.detach().cpu().contiguous() for k, v in result.method.state_dict().items()}
    save_file(state, os.path.join(args.out, f"{args.name}-rank{rank}.safetensors"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
