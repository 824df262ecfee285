"""The AWS emulator for the local stack and the tests: moto, served by one thread.

moto's own `moto_server` is threaded and not linearizable under concurrent transactions (it lost
updates in measurements: DESIGN.md section 9); werkzeug's server with threaded=False answers one
request at a time, so every transaction is atomic. Prints "PORT <n>" once listening. Exits when its
standard input closes, so it never outlives the process that started it.
"""
import logging
import os
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=False, processes=1)
    print(f"PORT {server.server_port}", flush=True)

    def exit_with_parent() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
