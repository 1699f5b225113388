"""``python -m sslkit.cli`` (used by torchrun hand-over: ``torchrun -m sslkit.cli pretrain ...``)."""

from sslkit.cli.main import entry

entry()
