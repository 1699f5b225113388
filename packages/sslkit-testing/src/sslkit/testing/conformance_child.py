"""The child processes of :func:`sslkit.testing.check_plugin`: one training run per method of a
plugin, one after another in one process (so that importing torch and the plugin's libraries is
paid once per plugin, not once per method), as the CLI would start each run.

``python -m sslkit.testing.conformance_child PLUGIN OUT RUNS.json``

- ``PLUGIN`` is the import path of the plugin object (``sslkit.tabular.plugin:plugin``); it is
  registered in this process, so a plugin under test needs no installed entry point.
- ``RUNS.json`` lists the runs: ``[{"method": ..., "name": ..., "sets": [...], "stop_after":
  K}, ...]``; each trains into ``OUT/<name>`` and prints ``run <name>`` first (a failure's
  traceback follows the name of the run it belongs to).
- Under ``torch.distributed.run`` the process group is made once, before the first run, and
  every run of every rank writes its final weights (``<name>-rank<r>.safetensors``).
- ``stop_after: K`` sends this process a real SIGTERM at the end of optimizer step ``K``; the
  engine checkpoints and stops, as it would when a scheduler pre-empts a job, and the child
  writes ``<name>-stopped.json`` before it goes on to the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
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


def _train(plugin: Any, run: dict[str, Any], out: Path) -> None:
    import dataclasses

    from safetensors.torch import save_file

    from sslkit.core import api
    from sslkit.core.config import build_run_config
    from sslkit.core.engine.signals import RunInterrupted
    from sslkit.core.plugin import Registry, register

    method, name, stop = run["method"], run["name"], int(run.get("stop_after", 0))
    if stop:
        spec = plugin.methods[method]
        spec = dataclasses.replace(spec, build=_stopping(spec.build, stop))
        others = [plugin.methods[n] for n in plugin.methods if n != method]
        plugin = dataclasses.replace(plugin, methods=Registry("method", [spec, *others]))
    register(plugin)
    sets = [*run["sets"], f"train.out={out}", f"train.name={name}", "train.device=cpu"]
    cfg = build_run_config(plugin, method, overrides=sets)
    try:
        result = api.pretrain(cfg, evaluate_default_task=False, log=lambda *_: None)
    except RunInterrupted as stopped:
        (out / f"{name}-stopped.json").write_text(json.dumps({"exit_code": stopped.exit_code}))
        return
    rank = os.environ.get("RANK", "0")
    state = {k: v.detach().cpu().contiguous() for k, v in result.method.state_dict().items()}
    save_file(state, str(out / f"{name}-rank{rank}.safetensors"))


def _teardown(agreed: bool) -> None:
    """The engine's teardown: it collects the DDP modules and samplers (reference cycles that
    hold the group) before it destroys the group."""
    from sslkit.core.engine import ddp

    ddp.teardown(created=True, agreed=agreed)


def main(argv: list[str]) -> int:
    import torch
    import torch.distributed as dist

    parser = argparse.ArgumentParser()
    parser.add_argument("plugin")
    parser.add_argument("out")
    parser.add_argument("runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    plugin = _plugin(args.plugin)
    runs = json.loads(Path(args.runs).read_text())
    # one group for all the runs, made before the first: the engine joins a group it finds (as
    # under a launcher that made it); a second init after the engine's teardown would hang on
    # torchrun's store. The engine's own setup and teardown are tested in core.
    group = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if group:
        dist.init_process_group("gloo")
    try:
        for run in runs:
            print(f"run {run['name']}", flush=True)
            _train(plugin, run, Path(args.out))
            if group:
                dist.barrier()
    except BaseException:
        if group:
            _teardown(agreed=False)
        raise
    if group:
        _teardown(agreed=True)
        # skip interpreter finalization: twice in CI (recsys lightgcn-ddp, the last run, both
        # times) rank 1 aborted there after all its runs passed, the second time with the
        # teardown above in place ("terminate called without an active exception", SIGABRT:
        # likely a C++ thread that frees a tensor asks for the GIL while Python finalizes, and
        # is ended inside a destructor; pytorch/pytorch#179291 describes the same with gloo)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
