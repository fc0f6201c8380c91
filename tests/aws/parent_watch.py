"""Lets a test server die with the test binary that started it.

Shared by the servers in this folder (moto_launcher.py, fake_kube.py,
fault_proxy.py): each is run as a script, so this folder is on its import path.
"""

import os
import threading
import time


def exit_with_parent():
    """Exits when the process that started this one dies (even by SIGKILL), so a test
    binary killed mid-run leaves no server behind."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
