#!/usr/bin/python3
"""The config-edit test's app: pyapp.py (examples/python/app.py, Ready=notify) whose
every answer also says what the config gave it: GREETING (Environment=), SECRET
(EnvironmentFile=), its working directory (WorkingDirectory=) and which file runs
(Exec=). It puts them in SOCKD_APP, the first field app.py prints."""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
os.environ["SOCKD_APP"] = "%s greeting=%s secret=%s cwd=%s exec=%s" % (
    os.environ.get("SOCKD_APP", "-"), os.environ.get("GREETING", "-"), os.environ.get("SECRET", "-"),
    os.getcwd(), os.path.basename(sys.argv[0]))
# exec keeps the pid: LISTEN_PID stays right.
os.execv(sys.executable, [sys.executable, os.path.join(here, "pyapp.py")])
