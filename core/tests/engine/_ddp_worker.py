"""One rank of the distributed-equivalence test (run alone, or under torch.distributed.run).

``python _ddp_worker.py OUT NAME BATCH`` trains digits SimCLR (deterministic views:
noise 0, dropout 0) with a per-device batch of BATCH, then saves this rank's final weights to
``OUT/NAME-rank<r>.safetensors``.
"""

import sys
from dataclasses import replace

import torch
from safetensors.torch import save_file

from sslkit.core import api
from sslkit.core import distributed as D
from sslkit.core.config import build_run_config
from sslkit.core.plugin import MethodSpec, Registry, register, unregister
from sslkit.testing import digits, digits_impl

BUILT = []


def build(cfg, data):
    method = digits_impl.DigitsSimCLR(cfg, data.info["features"])
    BUILT.append(method)
    return method


def train(out: str, name: str, batch: int) -> None:
    spec = MethodSpec("simclr", digits.DigitsSimCLR, build)
    plugin = replace(digits.plugin, methods=Registry("method", [spec]))
    register(plugin)
    overrides = [
        f"train.out={out}", f"train.name={name}", f"train.batch_size={batch}",
        "train.epochs=10", "train.max_steps=8", "train.log_every=1", "train.quiet=true",
        "train.lr=0.003", "train.lr_scaling=linear", "train.base_batch_size=64",
        "train.warmup_epochs=0", "data.max_rows=600",
        "method.noise=0", "method.dropout=0", "method.hidden_dim=64",
        "train.device=cpu",  # gloo, also on a GPU machine
    ]  # fmt: skip
    try:
        api.pretrain(build_run_config(plugin, "simclr", overrides=overrides),
                     evaluate_default_task=False)  # fmt: skip
    finally:
        unregister(plugin.name)
    state = {k: v.detach().cpu().contiguous() for k, v in BUILT[-1].state_dict().items()}
    save_file(state, f"{out}/{name}-rank{D.rank()}.safetensors")


if __name__ == "__main__":
    torch.set_num_threads(1)
    train(sys.argv[1], sys.argv[2], int(sys.argv[3]))
