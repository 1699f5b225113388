"""MONAI's import-time and reader chatter that says nothing to an sslkit user, silenced in one
place (each entry narrow: one message of one module), before MONAI is imported."""

from __future__ import annotations

import logging
import warnings

WARNINGS = (
    # pydicom's optional nvImageCodec decoder plugin (GPU decoding), absent on most machines
    (UserWarning, r"NvImgCodecPydicomReader: nvImageCodec", r"monai\.data\.image_reader"),
    # Orientationd's default for its `labels` argument, which sslkit passes explicitly
    (FutureWarning, r".*Orientationd.__init__:labels", r"monai\.utils\.deprecate_utils"),
    (FutureWarning, r".*Orientation.__init__:labels", r"monai\.utils\.deprecate_utils"),
)
LOGGERS = ("monai.data.nvimgcodec_pydicom_plugin",)


class _DropNvImgCodec(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "nvImageCodec" not in str(record.msg)


def quiet_monai() -> None:
    """Install the filters (idempotent), then import MONAI."""
    from sslkit.core.quiet import quiet

    quiet()
    for category, message, module in WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNvImgCodec) for f in logger.filters):
            logger.addFilter(_DropNvImgCodec())
