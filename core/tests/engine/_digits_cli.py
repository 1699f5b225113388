"""Run ``sslkit`` with the digits reference plugin registered in-process (a test helper).

``SSLKIT_TEST_STEP_SLEEP=<seconds>`` makes each optimizer step that much slower, so a test can
signal the process in the middle of a run; it changes nothing in the computation.
"""

import os
import sys
import time

from sslkit.cli.main import run
from sslkit.core.plugin import register
from sslkit.testing import digits_impl
from sslkit.testing.digits import plugin

if __name__ == "__main__":
    pause = float(os.environ.get("SSLKIT_TEST_STEP_SLEEP", "0"))
    if pause:
        digits_impl.DigitsSimCLR.on_train_step_end = lambda self, step, total: time.sleep(pause)
    register(plugin)
    sys.exit(run(sys.argv[1:]))
