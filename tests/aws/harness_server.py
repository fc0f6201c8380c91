"""How the test servers in this folder serve (fake_kube.py, fault_proxy.py) and die
with the test binary that started them (those two and moto_launcher.py).

Each is run as a script, so this folder is on its import path.
"""

import os
import threading
import time
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    """A threaded HTTP server whose handler threads never keep the process alive."""

    daemon_threads = True
    allow_reuse_address = True


class TlsServer(Server):
    """A [`Server`] that speaks TLS with `context`. Each connection's handshake runs
    in its handler thread, on the first read, so a slow or refusing client never
    holds up the accepting thread."""

    def __init__(self, address, handler, context):
        self.context = context
        super().__init__(address, handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


def exit_with_parent():
    """Exits when the process that started this one dies (even by SIGKILL), so a test
    binary killed mid-run leaves no server behind."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve(server, banner):
    """Says `banner` on stdout (a test's log shows where the server listens) and
    serves until interrupted."""
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
