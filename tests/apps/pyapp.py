#!/usr/bin/python3
"""The test suite's Ready=notify app: examples/python/app.py (installed beside this file
as app.py), plus switches to misbehave on purpose:
  a file named by PYAPP_FAIL_FLAG makes it exit 3 at start while the file exists;
  a file named by PYAPP_HANG_FLAG makes it never become ready;
  a file named by PYAPP_SLOW_FLAG makes it wait before it starts while the file exists
  (as many seconds as the file says, 3 if it is empty)."""
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
app = next(p for p in (os.path.join(here, "app.py"), os.path.join(here, "../../examples/python/app.py"))
           if os.path.exists(p))

flag = os.environ.get("PYAPP_FAIL_FLAG")
if flag and os.path.exists(flag):
    print("pyapp: failing at start on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
hang = os.environ.get("PYAPP_HANG_FLAG")
if hang and os.path.exists(hang):
    print("pyapp: never becoming ready on purpose", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
slow = os.environ.get("PYAPP_SLOW_FLAG")
if slow and os.path.exists(slow):
    try:
        with open(slow) as f:
            delay = float(f.read().strip() or 3)
    except (OSError, ValueError):
        delay = 3
    print("pyapp: starting slowly on purpose (%gs)" % delay, file=sys.stderr, flush=True)
    time.sleep(delay)
# exec keeps the pid: LISTEN_PID stays right.
os.execv(sys.executable, [sys.executable, app])
