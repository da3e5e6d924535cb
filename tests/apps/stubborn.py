#!/usr/bin/python3
"""A Ready=notify test app that ignores SIGTERM: examples/python/app.py (installed beside
this file as app.py), run in this very process (so LISTEN_PID stays right) with SIGTERM
ignored, and its own attempt to install a SIGTERM handler ignored too. Asked to stop, it
keeps serving; only SIGKILL (sockd-spawn's, after StopTimeoutSec=) ends it."""
import os
import runpy
import signal
import sys

here = os.path.dirname(os.path.abspath(__file__))
app = next(p for p in (os.path.join(here, "app.py"), os.path.join(here, "../../examples/python/app.py"))
           if os.path.exists(p))

real_signal = signal.signal


def stubborn_signal(signum, handler):
    if signum == signal.SIGTERM:
        return real_signal(signum, signal.SIG_IGN)
    return real_signal(signum, handler)


real_signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal = stubborn_signal
print("stubborn.py: ignoring SIGTERM (pid %d)" % os.getpid(), file=sys.stderr, flush=True)
sys.argv = [app]
runpy.run_path(app, run_name="__main__")
