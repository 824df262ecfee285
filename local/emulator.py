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

import copy

import moto.dynamodb.models as dynamodb_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


class _CopyOncePerTransaction:
    """moto backs up a table for rollback once per item of a transaction (a deep copy of the whole
    table, stream records included, 17 times for a day of 16 slots). The copies are all taken before
    anything changes, so one copy per table serves them all: same rollback, linear cost."""

    def __init__(self) -> None:
        self.copies: dict[int, object] | None = None

    def deepcopy(self, obj, memo=None):
        if self.copies is None:
            return copy.deepcopy(obj, memo)
        if id(obj) not in self.copies:
            self.copies[id(obj)] = copy.deepcopy(obj)
        return self.copies[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


def _copy_tables_once() -> None:
    shim = _CopyOncePerTransaction()
    dynamodb_models.copy = shim
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        shim.copies = {}
        try:
            return original(self, transact_items)
        finally:
            shim.copies = None

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _copy_tables_once()
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
