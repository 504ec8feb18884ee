"""Fault injection on the alert path (issue 11): kill -9 of the delivering process.

Recorded data: the 2015-03-17 storm in ``omni2_2015_hourlyavg.dat`` (Kp 5+ at 06-09 UT, 8- at
12-15 UT; Dst minimum -223 nT at 22 UT), persistence as the primary model (no TFT registered).
The webhook receiver (:class:`tests.forecasting.alerting.test_delivery.Receiver`) honours
``Idempotency-Key``: ``payloads`` are the deliveries an operator sees, ``keys`` every request.
Each test states the fault, then checks: 0 duplicate deliveries, 0 duplicate alerts, 0 lost
alerts, 0 false alerts, no blocked run, and a clear message for the operator.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd

from forecasting.alerting import delivery
from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog
from tests.flows.alert_harness import REPO, at, duplicates, lost
from tests.forecasting.alerting.test_delivery import Receiver

# ------------------------------------------------------------------------ kill -9

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {repo!r})
    import pandas as pd
    from forecasting.alerting import delivery
    from forecasting.alerting.log import AlertLog
    print("ready", flush=True)
    c = delivery.deliver_pending(AlertLog(), pd.Timestamp("2015-03-17 12:00"),
                                 retry_delays=(0.01,))
    print("done", c, flush=True)
    """
)


def test_kill_9_just_after_a_webhook_post(home, monkeypatch):
    """Fault: the delivering process is killed right after the receiver took a message.

    The restart resends only that message, with the same Idempotency-Key, so the operator
    gets it once; a message whose success was recorded is never sent again.
    """
    kills = int(os.environ.get("SUPERSTORM_FAULT_KILLS", "2"))
    rng = random.Random(11)
    child: dict = {}

    def kill_child(n):
        if n == child.get("kill_at"):
            os.kill(child["proc"].pid, signal.SIGKILL)
            time.sleep(0.2)  # the sender is gone before it can record the success

    r = Receiver(on_post=kill_child)
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        log = AlertLog()
        t = at(9)
        log.record_run(
            t,
            [
                A.AlertAction(A.ISSUE, A.WATCH, "kp", "G1", 0.6, d, d, t)
                for d in pd.date_range(at(24), periods=kills + 2, freq="1D")
            ],
        )
        killed = 0
        for _attempt in range(kills + 2):
            child["kill_at"] = r.requests + rng.randint(1, 2) if killed < kills else None
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD.format(repo=str(REPO))],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            child["proc"] = proc
            out, err = proc.communicate(timeout=60)
            if proc.returncode == -signal.SIGKILL:
                killed += 1
            else:
                assert proc.returncode == 0, err
                if killed >= kills:
                    break
        assert killed == kills
        # each kill costs one resend (same key), answered but not accepted twice
        assert duplicates(r.keys) <= kills
        assert duplicates(r.serials()) == 0
        assert sorted(r.serials()) == [m["serial"] for m in log.messages() if m["notify"]]
        assert lost(log) == []
        # a recorded success is final: another round sends nothing
        before = r.requests
        assert delivery.deliver_pending(log, t)["pending"] == 0 and r.requests == before
    finally:
        r.stop()
