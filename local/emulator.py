"""The AWS emulator for the local stack and the tests: moto, served by one thread, made faithful.

moto's own `moto_server` is threaded and not linearizable under concurrent transactions (it lost
updates in measurements: DESIGN.md section 9); werkzeug's server with threaded=False answers one
request at a time, so every transaction is atomic. Prints "PORT <n>" once listening. Exits when its
standard input closes, so it never outlives the process that started it.

moto is kinder than AWS. This wrapper makes it say no where AWS says no, always (`Limits`), and fail
the way AWS fails under load, on request (`Faults`, from EMULATOR_FAULTS and EMULATOR_SEED):

    EMULATOR_FAULTS=transaction_conflict=0.3,write_conflict=0.1,throttling=0.05,put_events=0.2,send_message=0.05
    EMULATOR_SEED=7

Requests whose user agent names the app `emulator-exempt` (the test harness's own inspection and
fixtures) get no faults; the limits apply to every request. Requests of the app `emulator-infra` (the
local stack's stand-ins for Lambda's event source mappings and for Scheduler) get none of the service's
faults either, but do meet the queue's own: a message delivered twice (`sqs_duplicate`) or after later
ones (`sqs_reorder`), as SQS standard queues deliver.

`POST /_emulator/faults` with a spec as its body replaces the faults while the emulator runs (the seed
goes on); `GET /_emulator/faults` answers the rates in force.

A DynamoDB request that asks for its consumed capacity (ReturnConsumedCapacity TOTAL or INDEXES) gets
the units DynamoDB's rules give for the items it touched, not moto's constant (`Capacity`). And the
emulator meters what it is asked: `GET /_emulator/meter` answers the requests of the service and of the
stand-ins (`infra`) by action (and queue, for SQS), with PutEvents' and SendMessageBatch's entries and
the receives that delivered messages; `POST` answers the same and starts a fresh count. The harness's
own requests are not counted. `make bench-cost` prices operations from both.

IAM, on request (`Iam`): `POST /_emulator/iam` gives access key ids their identity policies (the local
stack gives each function its own key and its template statements); from then on a request signed with
such a key is refused as AWS refuses it (AccessDeniedException) unless a statement allows each action it
takes on each resource it names, conditions included (`dynamodb:LeadingKeys`, `s3:prefix`). Keys without
policies (the harness, the stand-ins for AWS's own machinery) may do anything. `GET /_emulator/iam`
answers the refusals so far.
"""
import copy
import io
import json
import logging
import os
import random
import re
import sys
import threading
import time
import urllib.parse
import zlib

import moto
import moto.dynamodb.models as dynamodb_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

# The patches below reach into moto's internals; they were written against this version.
MOTO_VERSION = "5.2.5"
if moto.__version__ != MOTO_VERSION:
    sys.exit(f"emulator.py patches moto {MOTO_VERSION}, found {moto.__version__}: pin it in local/requirements.txt")

EXEMPT_APP = "emulator-exempt"
INFRA_APP = "emulator-infra"


class _TablesNotCopied:
    """moto's `copy` module, but a deep copy of a whole table while a transaction runs is the table
    itself: moto backs up every table a transaction names for its rollback (a deep copy of the whole
    table, its cost growing with the table: 6.6 of the emulator's 20.4 busy seconds in largest.rs's
    bulk of 90 transactions, cProfile), and `_rollback_keeps_the_stream` keeps what a rollback needs
    instead. Every other copy moto takes (an item's old image, a query's results) is taken."""

    def __init__(self) -> None:
        self.in_transaction = False

    def deepcopy(self, obj, memo=None):
        if self.in_transaction and isinstance(obj, dynamodb_models.Table):
            return obj
        return copy.deepcopy(obj, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


def _rollback_keeps_the_stream() -> None:
    """A cancelled transaction leaves no trace, stream included.

    A transaction writes only the items it names (at most 100), so before it runs each of them is kept
    as it was (a copy of the item, or its absence). If moto cancels it, each is put back (or removed)
    and each table's stream shard is cut back to its length before the transaction: readers see
    exactly the committed changes, on the shard they already read. moto's own rollback puts its
    "copies" of the tables back, which are the live tables themselves (`_TablesNotCopied`)."""
    shim = _TablesNotCopied()
    dynamodb_models.copy = shim
    original = dynamodb_models.DynamoDBBackend.transact_write_items

    def kept_items(backend, transact_items):
        kept = []
        for action in transact_items if isinstance(transact_items, list) else []:
            for op in action.values() if isinstance(action, dict) else []:
                table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None:
                    continue
                try:
                    hash_value, range_value = moto_key(table, op.get("Key") or op.get("Item") or {})
                except (KeyError, TypeError, ValueError):
                    continue  # moto refuses it before writing it
                before = moto_item(table, hash_value, range_value)
                kept.append((table, hash_value, range_value, copy.deepcopy(before)))
        return kept

    def put_back(table, hash_value, range_value, before):
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
            return
        held = table.items.get(hash_value)
        if before is not None:
            table.items[hash_value][range_value] = before
        elif held is not None:
            held.pop(range_value, None)
            if not held:
                del table.items[hash_value]

    def transact_write_items(self, transact_items):
        lengths = {
            name: len(t.stream_shard.items) for name, t in self.tables.items() if t.stream_shard is not None
        }
        kept = kept_items(self, transact_items)
        shim.in_transaction = True
        try:
            return original(self, transact_items)
        except Exception:
            # In reverse, so that an item named twice (which moto refuses) ends as it was first.
            for table, hash_value, range_value, before in reversed(kept):
                put_back(table, hash_value, range_value, before)
            for name, table in self.tables.items():
                if table.stream_shard is not None and name in lengths:
                    del table.stream_shard.items[lengths[name]:]
            raise
        finally:
            shim.in_transaction = False

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


def _modules_listed_once() -> None:
    """moto finds the backend of every request's host by listing its own package directory and asking
    the file system whether each of its 174 entries is a directory, every time (`list_of_moto_modules`,
    from `get_backend_for_host`): 0.9 ms a request (timeit, warm cache), against some 3 to 5 ms for
    a whole small request. The package does not change while the emulator runs: it is listed once."""
    import moto.backends as moto_backends

    listed = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: listed


def _update_writes_one_record() -> None:
    """An UpdateItem that creates its item writes one stream record, INSERT with the whole new image.

    moto creates the item first (a PutItem of its key alone, which adds an INSERT of the key alone to
    the stream) and then applies the update (a second INSERT, the whole item). DynamoDB writes one
    record per item changed (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html:
    "each stream record appears exactly once in the stream"), and an UpdateItem that fails changes nothing.
    So the key-only record is cut from the stream, and a placeholder left by a failed update is removed
    with its records. The server answers one request at a time, so no reader sees the shard between."""
    original = dynamodb_models.DynamoDBBackend.update_item

    def update_item(self, table_name, key, *args, **kwargs):
        table = self.get_table(table_name)
        hash_value, range_value = self.get_keys_value(table, key)
        existed = table.get_item(hash_value, range_value) is not None
        shard = table.stream_shard
        before = len(shard.items) if shard is not None else 0
        try:
            item = original(self, table_name, key, *args, **kwargs)
        except Exception:
            if not existed and table.get_item(hash_value, range_value) is not None:
                table.delete_item(hash_value, range_value)
            if shard is not None:
                del shard.items[before:]
            raise
        if not existed and shard is not None and len(shard.items) == before + 2:
            # moto numbers a record by its place in the shard (and reads by that place): the record
            # that stays takes the number of the place it moves to.
            del shard.items[before]
            shard.items[before].record["dynamodb"]["SequenceNumber"] = str(before + shard.starting_sequence_number)
        return item

    dynamodb_models.DynamoDBBackend.update_item = update_item


def _query_reads_its_partition() -> None:
    """A Query of the table reads its partition, not the table.

    moto answers a Query by sorting every item of the table and keeping those of the partition, so a
    page of 25 from one partition of a 350,000-item table took it seconds (the search index's
    benchmark, `make bench-search`, ran past the function's timeout). DynamoDB finds a partition by
    its key and reads its items in sort-key order, whatever the table holds. Here a Query of the table
    (not an index) is answered from that partition's items alone: the same items, the same order, the
    same limits; moto's own code does the rest."""
    table_class = dynamodb_models.Table
    original = table_class.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = list((self.items.get(hash_key) or {}).values())
        # In order already by the raw value, moto's own sort (comparing its typed values in Python)
        # passes once over the list instead of sorting it.
        partition.sort(key=lambda i: (i.range_key.type, float(i.range_key.value) if i.range_key.type == "N" else i.range_key.value))
        self.all_items = lambda: partition
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    table_class.query = query


class Refusal(Exception):
    """An answer given instead of moto's: status, AWS error type, message, extra body fields."""

    def __init__(self, status, kind, message, service="dynamodb", **extra):
        super().__init__(message)
        self.status, self.kind, self.message, self.service, self.extra = status, kind, message, service, extra

    def answer(self, start_response):
        """The refusal as its service's protocol answers it: S3's XML, Scheduler's REST JSON with the
        error type in a header, the JSON protocols' `__type`."""
        if self.service == "s3":
            data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                    f"<Message>{self.message}</Message></Error>").encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
            return [data]
        if self.service == "scheduler":
            data = json.dumps({"Message": self.message}).encode()
            start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                                             ("x-amzn-ErrorType", self.kind)])
            return [data]
        return respond(start_response, self.status, self.body())

    def body(self):
        prefix = {
            "dynamodb": "com.amazonaws.dynamodb.v20120810#",
            "sqs": "com.amazonaws.sqs#",
            "events": "",
        }[self.service]
        body = {"__type": prefix + self.kind, "message": self.message}
        if self.service == "dynamodb" and self.kind == "TransactionCanceledException":
            body = {"__type": prefix + self.kind, "Message": self.message}
        body.update(self.extra)
        return body


def validation(message):
    return Refusal(400, "ValidationException", message)


# --- Limits: what DynamoDB refuses, always --------------------------------------------------------
#
# Each number below is from "Quotas in Amazon DynamoDB",
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
# (also published as .../developerguide/Constraints.html).

EXPRESSION_MAX_BYTES = 4 * 1024  # "Expression parameters: the maximum length of any expression string is 4 KB"
IN_MAX_OPERANDS = 100  # "The IN comparator ... a maximum of 100 values"
TRANSACTION_MAX_ACTIONS = 100  # "TransactWriteItems ... up to 100 actions"
TRANSACTION_MAX_BYTES = 4 * 1024 * 1024  # "The aggregate size of the items in the transaction cannot exceed 4 MB"
ITEM_MAX_BYTES = 400 * 1024  # "The maximum item size in DynamoDB is 400 KB"
BATCH_GET_MAX_KEYS = 100  # "A single BatchGetItem operation can retrieve a maximum of 100 items"
BATCH_WRITE_MAX_REQUESTS = 25  # "A single call to BatchWriteItem can ... up to 25 put or delete requests"

EXPRESSIONS = {
    "KeyConditionExpression": "KeyConditionExpression",
    "FilterExpression": "FilterExpression",
    "ConditionExpression": "ConditionExpression",
    "UpdateExpression": "UpdateExpression",
    "ProjectionExpression": "ProjectionExpression",
}


def value_size(v) -> int:
    """Item sizes as DynamoDB counts them: names and values in UTF-8 bytes, numbers about 1 byte per
    two digits plus one (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    (kind, inner), = v.items()
    if kind in ("S", "B"):
        return len(inner.encode()) if kind == "S" else len(inner)
    if kind == "N":
        return (len(inner.strip("-").replace(".", "")) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(x.encode()) for x in inner)
    if kind == "NS":
        return sum((len(x) + 1) // 2 + 1 for x in inner)
    if kind == "L":
        return 3 + sum(value_size(x) + 1 for x in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(x) + 1 for k, x in inner.items())
    return 0


def item_size(item) -> int:
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


def check_expressions(op: dict) -> None:
    used = ""
    for field, label in EXPRESSIONS.items():
        expr = op.get(field)
        if expr is None:
            continue
        used += " " + expr
        size = len(expr.encode())
        if size > EXPRESSION_MAX_BYTES:
            raise validation(
                f"Invalid {label}: Expression size has exceeded the maximum allowed size; expression size: {size}"
            )
        for operands in re.findall(r"\bIN\s*\(([^)]*)\)", expr, flags=re.IGNORECASE):
            count = len([o for o in operands.split(",") if o.strip()])
            if count > IN_MAX_OPERANDS:
                raise validation(
                    f"Invalid {label}: The IN operator is provided with too many operands; number of operands: {count}"
                )
    for provided, prefix in (("ExpressionAttributeNames", "Names"), ("ExpressionAttributeValues", "Values")):
        for token in op.get(provided) or {}:
            if not re.search(re.escape(token) + r"(?![A-Za-z0-9_])", used):
                raise validation(
                    f"Value provided in ExpressionAttribute{prefix} unused in expressions: keys: {{{token}}}"
                )


def check_item(item) -> None:
    if item is not None and item_size(item) > ITEM_MAX_BYTES:
        raise validation("Item size has exceeded the maximum allowed size")


def moto_table(table_name):
    """The table of that name as moto holds it, in whichever account and region has it, or None."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            table = backend.tables.get(table_name)
            if table is not None:
                return table
    return None


def key_names(table_name):
    """The key attributes of a table as moto holds it, or None if there is no such table (then the
    request fails in moto with DynamoDB's own ResourceNotFoundException)."""
    table = moto_table(table_name)
    return None if table is None else {table.hash_key_attr, table.range_key_attr} - {None}


def moto_key(table, key):
    """moto's (hash, range) of `key` (DynamoDB JSON) in `table`; range None if the table has none.
    Raises KeyError or TypeError for a key without the table's key attributes."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def moto_item(table, hash_value, range_value):
    """moto's Item at that key, or None; unlike moto's own get_item, adds no empty partition."""
    held = table.items.get(hash_value)
    return (held or {}).get(range_value) if range_value is not None else held


def check_transaction(request: dict) -> None:
    actions = request.get("TransactItems") or []
    if len(actions) > TRANSACTION_MAX_ACTIONS:
        raise validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
            f"Member must have length less than or equal to {TRANSACTION_MAX_ACTIONS}"
        )
    seen = set()
    total = 0
    for action in actions:
        (_, op), = action.items()
        check_expressions(op)
        check_item(op.get("Item"))
        key = op.get("Key") or {}
        if "Item" in op:
            # The key of a Put is in its item: the attributes the table's key schema names.
            names = key_names(op.get("TableName"))
            key = {k: v for k, v in op["Item"].items() if names is None or k in names}
        ident = (op.get("TableName"), json.dumps(key, sort_keys=True))
        if ident in seen:
            raise validation("Transaction request cannot include multiple operations on one item")
        seen.add(ident)
        total += item_size(op.get("Item") or {}) + item_size(key)
        total += sum(value_size(v) for v in (op.get("ExpressionAttributeValues") or {}).values())
    if total > TRANSACTION_MAX_BYTES:
        raise validation("Transaction request cannot be larger than 4 MB")


# Key conditions as DynamoDB accepts them: `k = :v`, optionally `AND` one sort-key condition
# (=, <, <=, >, >=, BETWEEN, begins_with).
_NAME = r"(#?[A-Za-z0-9_]+)"
_VALUE = r"(:[A-Za-z0-9_]+)"
_SORT_FORMS = [
    (re.compile(rf"^{_NAME}\s*(=|<=|>=|<|>)\s*{_VALUE}$"), "cmp"),
    (re.compile(rf"^{_NAME}\s+BETWEEN\s+{_VALUE}\s+AND\s+{_VALUE}$", re.IGNORECASE), "between"),
    (re.compile(rf"^begins_with\s*\(\s*{_NAME}\s*,\s*{_VALUE}\s*\)$", re.IGNORECASE), "begins"),
]


def _scalar(v):
    (kind, inner), = v.items()
    return float(inner) if kind == "N" else inner


def check_start_key(request: dict) -> None:
    """An ExclusiveStartKey must lie inside the query's key condition: DynamoDB answers
    "The provided starting key is outside query boundaries based on provided conditions"."""
    start = request.get("ExclusiveStartKey")
    condition = request.get("KeyConditionExpression")
    if not start or not condition:
        return
    names = request.get("ExpressionAttributeNames") or {}
    values = request.get("ExpressionAttributeValues") or {}
    name = lambda n: names.get(n, n)
    parts = re.split(r"\s+AND\s+(?![^()]*\))", condition.strip().strip("()"), flags=re.IGNORECASE)
    # BETWEEN's own AND splits it: glue `x BETWEEN :a` and `:b` back together.
    glued = []
    for p in parts:
        if glued and re.search(r"\bBETWEEN\s+:\w+$", glued[-1], re.IGNORECASE):
            glued[-1] += " AND " + p
        else:
            glued.append(p)
    outside = validation("The provided starting key is outside query boundaries based on provided conditions")
    for part in glued:
        part = part.strip().strip("()").strip()
        for pattern, form in _SORT_FORMS:
            m = pattern.match(part)
            if not m:
                continue
            attr = name(m.group(1))
            if attr not in start:
                break
            have = _scalar(start[attr])
            if form == "cmp":
                want = _scalar(values[m.group(3)])
                ok = {"=": have == want, "<": have < want, "<=": have <= want, ">": have > want, ">=": have >= want}[m.group(2)]
            elif form == "between":
                ok = _scalar(values[m.group(2)]) <= have <= _scalar(values[m.group(3)])
            else:
                ok = str(have).startswith(str(_scalar(values[m.group(2)])))
            if not ok:
                raise outside
            break


def check_dynamodb(operation: str, request: dict) -> None:
    if operation == "TransactWriteItems":
        check_transaction(request)
        return
    check_expressions(request)
    if operation == "PutItem":
        check_item(request.get("Item"))
    if operation == "Query":
        check_start_key(request)
    if operation == "BatchGetItem":
        count = sum(len(t.get("Keys") or []) for t in (request.get("RequestItems") or {}).values())
        if count > BATCH_GET_MAX_KEYS:
            raise validation("Too many items requested for the BatchGetItem call")
    if operation == "BatchWriteItem":
        count = sum(len(t or []) for t in (request.get("RequestItems") or {}).values())
        if count > BATCH_WRITE_MAX_REQUESTS:
            raise validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
                "Map value must satisfy constraint: [Member must have length less than or equal to 25, "
                "Member must have length greater than or equal to 1]"
            )


# --- Consumed capacity: what DynamoDB charges, answered on request ------------------------------
#
# moto answers ReturnConsumedCapacity with a constant (1 or 0.5 units, whatever the items). DynamoDB
# charges by size, and `make bench-cost` prices what it answers, so a request that asks (TOTAL or
# INDEXES) gets the units DynamoDB's rules give:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
# - a read: the item's size rounded up to 4 KB per unit, half a unit per 4 KB if eventually consistent;
#   a Query or Scan sums every item it reads (before any filter: a filter does not lower the charge),
#   then rounds; a BatchGetItem rounds each item; nothing found still costs the minimum;
# - a write: the larger of the item's size before and after, rounded up to 1 KB per unit (at least 1);
# - a transaction: every item twice, prepare and commit, ConditionCheck included
#   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling);
# - a global secondary index: a write for every index whose entry the write adds, changes or removes,
#   two when it changes the entry's key (delete and put), sized as the projected entry
#   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes).
# Failed requests answer no ConsumedCapacity here as in DynamoDB (a failed conditional write still
# costs a write there; the benchmark's operations are the successful paths).

READ_UNIT_BYTES, WRITE_UNIT_BYTES = 4096, 1024
ASKING = ("TOTAL", "INDEXES")


def units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


def table_layout(table_name):
    """(key attribute names, [(index, key names, projection type, included names)]) of a table."""
    table = moto_table(table_name)
    if table is None:
        return [], []
    keys = [k for k in (table.hash_key_attr, table.range_key_attr) if k]
    indexes = [
        (i.name, list(i.schema_key_attrs), (i.projection or {}).get("ProjectionType", "ALL"),
         list((i.projection or {}).get("NonKeyAttributes") or []))
        for i in table.global_indexes
    ]
    return keys, indexes


def index_entry(item, table_keys, index):
    """What `item` puts in `index`: None if it lacks the index's key."""
    _, keys, kind, included = index
    if item is None or any(k not in item for k in keys):
        return None
    if kind == "ALL":
        return item
    wanted = set(table_keys) | set(keys) | (set(included) if kind == "INCLUDE" else set())
    return {k: v for k, v in item.items() if k in wanted}


def write_units(table, before, after, transactional=False):
    """The units a write of one item consumes: (table's, {index: units})."""
    keys, indexes = table_layout(table)
    own = units(max(item_size(before or {}), item_size(after or {})), WRITE_UNIT_BYTES)
    per_index = {}
    for index in indexes:
        old, new = index_entry(before, keys, index), index_entry(after, keys, index)
        if old == new:
            continue
        if old is not None and new is not None:
            moved = any(old[k] != new[k] for k in index[1])
            n = (units(item_size(old), WRITE_UNIT_BYTES) + units(item_size(new), WRITE_UNIT_BYTES)) if moved \
                else units(max(item_size(old), item_size(new)), WRITE_UNIT_BYTES)
        else:
            n = units(item_size(old or new), WRITE_UNIT_BYTES)
        per_index[index[0]] = n
    return own * (2 if transactional else 1), per_index


class Tally:
    """Units consumed by one request, per table and index."""

    def __init__(self):
        self.tables: dict[str, dict] = {}

    def add(self, table, own, per_index=None):
        t = self.tables.setdefault(table, {"table": 0.0, "indexes": {}})
        t["table"] += own
        for name, n in (per_index or {}).items():
            t["indexes"][name] = t["indexes"].get(name, 0.0) + n

    def answer(self, mode, kind):
        out = []
        for table, t in self.tables.items():
            total = t["table"] + sum(t["indexes"].values())
            c = {"TableName": table, "CapacityUnits": total, f"{kind}CapacityUnits": total}
            if mode == "INDEXES":
                c["Table"] = {"CapacityUnits": t["table"], f"{kind}CapacityUnits": t["table"]}
                if t["indexes"]:
                    c["GlobalSecondaryIndexes"] = {
                        n: {"CapacityUnits": u, f"{kind}CapacityUnits": u} for n, u in t["indexes"].items()}
            out.append(c)
        return out


class Capacity:
    """The units one DynamoDB request consumes, read from the items it touches before and after."""

    SINGLE_WRITES = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}

    def __init__(self, faithful, environ, operation, request):
        self.faithful, self.environ, self.operation, self.request = faithful, environ, operation, request
        self.mode = request.get("ReturnConsumedCapacity")
        self.before = {}

    def dynamodb(self, operation, body):
        environ = dict(self.environ, HTTP_X_AMZ_TARGET="DynamoDB_20120810." + operation)
        status, _, chunks = self.faithful.forward(environ, json.dumps(body).encode())
        return json.loads(chunks or b"{}") if status.startswith("200") else {}

    def item(self, table, key):
        """The item at `key` as a strongly consistent read sees it (None if there is none or the key is
        not the table's). Read from moto's table itself: as a GetItem forwarded through moto's web app,
        dispatch and serializer, these reads, two for each item a write touches, were half of the
        emulator's busy time under writes (cProfile of largest.rs's bulk of 90 transactions: 9.6 of
        20.4 s)."""
        found = moto_table(table)
        if found is None or not isinstance(key, dict):
            return None
        try:
            got = moto_item(found, *moto_key(found, key))
        except (KeyError, TypeError, ValueError):  # not the table's key: a GetItem would refuse it
            return None
        return None if got is None else got.to_json()["Attributes"]

    def writes(self):
        """(table, key, kind) of every item the request writes or checks."""
        r, op = self.request, self.operation
        if op in self.SINGLE_WRITES:
            yield r.get("TableName"), self.key_of(r), op
        elif op == "TransactWriteItems":
            for action in r.get("TransactItems") or []:
                (kind, inner), = action.items()
                yield inner.get("TableName"), self.key_of(inner), kind
        elif op == "BatchWriteItem":
            for table, requests in (r.get("RequestItems") or {}).items():
                for w in requests:
                    (kind, inner), = w.items()
                    yield table, self.key_of({"TableName": table, **inner}), kind

    @staticmethod
    def key_of(op):
        if "Key" in op:
            return op["Key"]
        names = set(table_layout(op.get("TableName"))[0])
        return {k: v for k, v in (op.get("Item") or {}).items() if k in names}

    def start(self):
        """Reads, before a write, the items it touches."""
        for table, key, _ in self.writes():
            self.before[(table, json.dumps(key, sort_keys=True))] = self.item(table, key)

    def finish(self, chunks: bytes) -> bytes:
        """moto's answer with DynamoDB's ConsumedCapacity in it."""
        answer = json.loads(chunks or b"{}")
        tally, kind = Tally(), "Write"
        op, r = self.operation, self.request
        if op in self.SINGLE_WRITES or op in ("TransactWriteItems", "BatchWriteItem"):
            unprocessed = answer.get("UnprocessedItems") or {}
            for table, key, action in self.writes():
                if any(key == self.key_of({"TableName": table, **next(iter(w.values()))})
                       for w in unprocessed.get(table) or []):
                    continue
                before = self.before.get((table, json.dumps(key, sort_keys=True)))
                if action == "ConditionCheck":
                    tally.add(table, 2 * units(item_size(before or {}), WRITE_UNIT_BYTES))
                    continue
                own, per_index = write_units(table, before, self.item(table, key), op == "TransactWriteItems")
                tally.add(table, own, per_index)
        elif op == "GetItem":
            kind = "Read"
            item = self.item(r.get("TableName"), r.get("Key"))
            tally.add(r.get("TableName"), self.read(item_size(item or {}), r.get("ConsistentRead")))
        elif op == "BatchGetItem":
            kind = "Read"
            unprocessed = answer.get("UnprocessedKeys") or {}
            for table, spec in (r.get("RequestItems") or {}).items():
                left = (unprocessed.get(table) or {}).get("Keys") or []
                for key in spec.get("Keys") or []:
                    if key not in left:
                        item = self.item(table, key)
                        tally.add(table, self.read(item_size(item or {}), spec.get("ConsistentRead")))
        elif op == "TransactGetItems":
            kind = "Read"
            for action in r.get("TransactItems") or []:
                get = action.get("Get") or {}
                item = self.item(get.get("TableName"), get.get("Key"))
                tally.add(get.get("TableName"), 2 * units(item_size(item or {}), READ_UNIT_BYTES))
        elif op in ("Query", "Scan"):
            kind = "Read"
            tally.add(r.get("TableName"), self.read(self.evaluated(answer), r.get("ConsistentRead")))
        else:
            return chunks
        answer["ConsumedCapacity"] = tally.answer(self.mode, kind)
        if op not in ("TransactWriteItems", "BatchWriteItem", "BatchGetItem", "TransactGetItems"):
            answer["ConsumedCapacity"] = answer["ConsumedCapacity"][0]
        return json.dumps(answer).encode()

    @staticmethod
    def read(size, consistent):
        return units(size, READ_UNIT_BYTES) * (1.0 if consistent else 0.5)

    NARROWING = ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")

    def evaluated(self, answer: dict) -> int:
        """The bytes a Query or Scan read: the items it answered when nothing narrowed them, else the
        same request without its filter and projection (the placeholders only they used dropped),
        whose items are every item read. (Asking moto again for every Query was 29% of the
        emulator's busy time in search.rs, cProfile; a narrowed one still must, for what it dropped.)"""
        if not any(field in self.request for field in self.NARROWING):
            return sum(item_size(i) for i in answer.get("Items") or [])
        r = dict(self.request)
        for field in self.NARROWING + ("ReturnConsumedCapacity",):
            r.pop(field, None)
        used = r.get("KeyConditionExpression") or ""
        for field in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in (r.get(field) or {}).items() if re.search(re.escape(k) + r"\b", used)}
            if kept:
                r[field] = kept
            else:
                r.pop(field, None)
        got = self.dynamodb(self.operation, r)
        return sum(item_size(i) for i in got.get("Items") or [])


# --- Faults: what AWS does under load, on request ------------------------------------------------

FAULT_KINDS = (
    "transaction_conflict", "write_conflict", "throttling", "put_events", "send_message",
    # A one-time schedule fires anywhere in the minute of its at() time, up to 59 s early:
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
    "scheduler_early",
    # CreateSchedule / DeleteSchedule throttled (429) or failing (500).
    "scheduler_errors",
    # Standard queues deliver at least once and in no promised order:
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html
    "sqs_duplicate", "sqs_reorder",
    # PutEvents refused whole with AccessDeniedException, as for a role without events:PutEvents on the
    # bus: a refusal no retry cures.
    "events_denied",
    # Not a probability but seconds: a write reaches the global secondary indexes this much later, so a
    # query of an index does not see an item written less than that ago. (DynamoDB propagates to GSIs
    # asynchronously, "usually within a fraction of a second":
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes)
    "gsi_lag",
)
#: Faults whose value is seconds, not a probability; the most each may be.
SECONDS = {"gsi_lag": 60.0}
THROTTLED = {"GetItem", "BatchGetItem", "BatchWriteItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


class Faults:
    def __init__(self, spec: str, seed: int | None):
        self.rng = random.Random(seed)
        self.counts = {k: 0 for k in FAULT_KINDS}
        self.p = self.parse(spec, fail=sys.exit)

    @staticmethod
    def parse(spec: str, fail):
        p = {k: 0.0 for k in FAULT_KINDS}
        for part in filter(None, (s.strip() for s in spec.split(","))):
            kind, _, rate = part.partition("=")
            if kind not in p:
                return fail(f"EMULATOR_FAULTS: unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
            try:
                p[kind] = float(rate)
            except ValueError:
                return fail(f"EMULATOR_FAULTS: {kind} needs a probability, got {rate!r}")
            most = SECONDS.get(kind, 1.0)
            if not 0.0 <= p[kind] <= most:
                return fail(f"EMULATOR_FAULTS: {kind}={rate} is not between 0 and {most}")
        return p

    def hit(self, kind: str) -> bool:
        if self.p[kind] > 0 and self.rng.random() < self.p[kind]:
            self.counts[kind] += 1
            return True
        return False

    def dynamodb(self, operation: str, request: dict):
        """A refusal to answer instead of moto, or a smaller request to send it, or None."""
        if operation in THROTTLED and self.hit("throttling"):
            if operation in ("BatchGetItem", "BatchWriteItem"):
                return "unprocessed"
            # On-demand tables throttle hot partitions with either of these:
            # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
            kind = self.rng.choice(["ThrottlingException", "ProvisionedThroughputExceededException"])
            return Refusal(400, kind, "Throughput exceeds the current capacity of your table or index. "
                           "DynamoDB is automatically scaling your table or index so please try again shortly.")
        if operation == "TransactWriteItems" and self.hit("transaction_conflict"):
            n = len(request.get("TransactItems") or [])
            conflicted = self.rng.randrange(max(n, 1))
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                if i == conflicted else {"Code": "None"}
                for i in range(n)
            ]
            codes = ", ".join(r["Code"] for r in reasons)
            return Refusal(400, "TransactionCanceledException",
                           f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                           CancellationReasons=reasons)
        if operation in ("PutItem", "UpdateItem", "DeleteItem") and self.hit("write_conflict"):
            return Refusal(400, "TransactionConflictException",
                           "Transaction is ongoing for the item")
        return None


# --- The WSGI layer ------------------------------------------------------------------------------

def respond(start_response, status: int, body: dict, headers=()):
    data = json.dumps(body).encode()
    reason = {400: "Bad Request", 500: "Internal Server Error"}.get(status, "OK")
    start_response(f"{status} {reason}", [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("Content-Length", str(len(data))),
        *headers,
    ])
    return [data]


def queue_of(body: bytes) -> str:
    """The queue name of an SQS request's QueueUrl, or ""."""
    try:
        url = json.loads(body or b"{}").get("QueueUrl")
    except (ValueError, AttributeError):
        url = None
    return url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) and url else ""


def rewritten(headers, chunks: bytes):
    """moto's headers for a body changed here: its length, and its CRC32 (DynamoDB's x-amz-crc32)."""
    fixed = {"content-length": str(len(chunks)), "x-amz-crc32": str(zlib.crc32(chunks) & 0xFFFFFFFF)}
    return [(k, fixed.get(k.lower(), v)) for k, v in headers]



# The account moto answers in (and the local stack's ARNs name).
ACCOUNT = "123456789012"


def glob(pattern: str, value: str, fold: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` one character
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html)."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE | re.DOTALL if fold else re.DOTALL) is not None


def hash_key(table_name, index_name=None):
    """The partition key attribute of a table, or of one of its global indexes."""
    keys, indexes = table_layout(table_name)
    if index_name is None:
        return keys[0] if keys else None
    for name, index_keys, _, _ in indexes:
        if name == index_name and index_keys:
            return index_keys[0]
    return None


def key_value(v):
    """A key attribute's value as IAM compares it (a string or a number's text)."""
    if isinstance(v, dict):
        for kind in ("S", "N"):
            if kind in v:
                return str(v[kind])
    return None


def queried_partition(request: dict):
    """The partition a Query names: the value its key condition gives the partition key."""
    attribute = hash_key(request.get("TableName"), request.get("IndexName"))
    names = request.get("ExpressionAttributeNames") or {}
    values = request.get("ExpressionAttributeValues") or {}
    for clause in re.split(r"\s+AND\s+", request.get("KeyConditionExpression") or "", flags=re.IGNORECASE):
        m = re.fullmatch(r"\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*", clause)
        if m and names.get(m.group(1), m.group(1)) == attribute:
            return key_value(values.get(m.group(2)))
    return None


class Iam:
    """Identity policies by access key id, evaluated as IAM evaluates one identity policy
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an
    explicit Deny wins, else an Allow is needed, for every action a request takes. What a request takes
    is the service authorization reference's: a transaction needs each of its items' actions
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html), a
    batch of SQS messages the single message's action, a Query the index's ARN when it names one, a
    one-time schedule iam:PassRole on its target's role as well."""

    def __init__(self):
        self.policies: dict[str, list] = {}
        self.refused: list[dict] = []

    def control(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                given = json.loads(environ["wsgi.input"].read(length) if length else b"{}")
                self.policies.update({str(k): list(v) for k, v in given["principals"].items()})
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return respond(start_response, 400, {"message": f"{{principals: {{key: [statement]}}}}: {e}"})
        return respond(start_response, 200, {"principals": sorted(self.policies), "refused": self.refused})

    @staticmethod
    def key_of(environ) -> str:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = re.search(r"Credential=([^/,\s]+)/", auth)
        if m:
            return m.group(1)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        return (query.get("X-Amz-Credential") or [""])[0].split("/")[0]

    @staticmethod
    def region_of(environ) -> str:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", auth)
        if not m:
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            parts = (query.get("X-Amz-Credential") or [""])[0].split("/")
            return parts[2] if len(parts) > 2 else "us-east-1"
        return m.group(1)

    def check(self, environ, target: str, request) -> None:
        """Raises the AccessDeniedException AWS would answer, if the caller's key has policies and they
        do not allow everything the request takes."""
        key = self.key_of(environ)
        statements = self.policies.get(key)
        if statements is None:
            return
        region = self.region_of(environ)
        for service, action, resource, context in self.takes(environ, target, request, region):
            if not self.allowed(statements, action, resource, context):
                self.refused.append({"key": key, "action": action, "resource": resource, "context": context})
                print(f"emulator: IAM refused {key} {action} on {resource} {context or ''}", file=sys.stderr, flush=True)
                raise Refusal(
                    400, "AccessDeniedException",
                    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{key}/{key} is not authorized to perform: "
                    f"{action} on resource: {resource} because no identity-based policy allows the "
                    f"{action} action", service=service)

    @staticmethod
    def allowed(statements, action: str, resource: str, context: dict) -> bool:
        def applies(st) -> bool:
            return (any(glob(a, action, fold=True) for a in st.get("actions") or [])
                    and any(glob(r, resource) for r in st.get("resources") or [])
                    and all(Iam.holds(op, k, want, context.get(k))
                            for op, keys in (st.get("conditions") or {}).items() for k, want in keys.items()))
        if any(st.get("effect") == "Deny" and applies(st) for st in statements):
            return False
        return any(st.get("effect", "Allow") == "Allow" and applies(st) for st in statements)

    @staticmethod
    def holds(operator: str, key: str, wanted: list, present) -> bool:
        """One condition (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
        ForAllValues holds when every value present matches (so also when none is), a single-valued
        operator needs the key present. Operators the local policies do not use hold nowhere."""
        match = {"StringLike": lambda w, v: glob(w, v), "StringEquals": lambda w, v: w == v}
        qualifier, _, base = operator.rpartition(":")
        if base not in match:
            return False
        values = present if isinstance(present, list) else [] if present is None else [present]
        if qualifier == "ForAllValues":
            return all(any(match[base](w, v) for w in wanted) for v in values)
        if qualifier == "ForAnyValue":
            return any(any(match[base](w, v) for w in wanted) for v in values)
        return bool(values) and all(any(match[base](w, v) for w in wanted) for v in values)

    @staticmethod
    def takes(environ, target: str, request, region: str):
        """(service, action, resource ARN, condition context) for each thing the request does."""
        request = request if isinstance(request, dict) else {}
        service, _, operation = target.partition(".")
        if service.startswith("DynamoDB_"):
            yield from Iam.dynamodb(operation, request, region)
        elif service == "AmazonSQS":
            url = request.get("QueueUrl") or request.get("QueueName") or ""
            name = url.rstrip("/").rsplit("/", 1)[-1]
            single = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                      "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(operation, operation)
            yield "sqs", f"sqs:{single}", f"arn:aws:sqs:{region}:{ACCOUNT}:{name}", {}
        elif service == "AWSEvents":
            buses = {e.get("EventBusName") or "default" for e in request.get("Entries") or []} or {"default"}
            for bus in sorted(buses):
                arn = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus}"
                yield "events", f"events:{operation}", arn, {}
        elif not target:
            yield from Iam.rest(environ, request, region)

    @staticmethod
    def dynamodb(operation: str, request: dict, region: str):
        def arn(table, index=None):
            return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}" + (f"/index/{index}" if index else "")

        def leading(table, *items):
            attribute = hash_key(table)
            found = [key_value((item or {}).get(attribute)) for item in items]
            return {"dynamodb:LeadingKeys": sorted({v for v in found if v is not None})}

        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            table = request.get("TableName")
            yield "dynamodb", f"dynamodb:{operation}", arn(table), leading(table, request.get("Key") or request.get("Item"))
        elif operation in ("Query", "Scan"):
            index = request.get("IndexName")
            partition = queried_partition(request) if operation == "Query" else None
            if operation == "Query" and partition is None:
                # DynamoDB needs the partition key's equality in every Query, and IAM always knows
                # it; a condition this reader cannot read must not pass for "no leading keys".
                raise validation("emulator: cannot read the partition key's equality in "
                                 f"{request.get('KeyConditionExpression')!r} to check dynamodb:LeadingKeys")
            context = {"dynamodb:LeadingKeys": [partition] if partition is not None else []}
            yield "dynamodb", f"dynamodb:{operation}", arn(request.get("TableName"), index), context
        elif operation == "BatchGetItem":
            for table, ask in (request.get("RequestItems") or {}).items():
                yield "dynamodb", "dynamodb:BatchGetItem", arn(table), leading(table, *(ask.get("Keys") or []))
        elif operation == "BatchWriteItem":
            for table, writes in (request.get("RequestItems") or {}).items():
                items = [(w.get("PutRequest") or {}).get("Item") or (w.get("DeleteRequest") or {}).get("Key") for w in writes]
                yield "dynamodb", "dynamodb:BatchWriteItem", arn(table), leading(table, *items)
        elif operation in ("TransactWriteItems", "TransactGetItems"):
            actions = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem",
                       "Delete": "DeleteItem", "Get": "GetItem"}
            for item in request.get("TransactItems") or []:
                for kind, op in item.items():
                    table = op.get("TableName")
                    yield ("dynamodb", f"dynamodb:{actions.get(kind, kind)}", arn(table),
                           leading(table, op.get("Key") or op.get("Item")))
        else:
            yield "dynamodb", f"dynamodb:{operation}", arn(request.get("TableName") or "*"), {}

    @staticmethod
    def rest(environ, request: dict, region: str):
        """Scheduler's and S3's REST requests (S3 path-style, as the local clients address it)."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if path.startswith("/schedules/"):
            name = path[len("/schedules/"):]
            group = request.get("GroupName") or (query.get("groupName") or ["default"])[0]
            action = {"POST": "CreateSchedule", "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule"}.get(method, "GetSchedule")
            yield "scheduler", f"scheduler:{action}", f"arn:aws:scheduler:{region}:{ACCOUNT}:schedule/{group}/{name}", {}
            role = (request.get("Target") or {}).get("RoleArn")
            if role:
                yield "scheduler", "iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}
            return
        if path.startswith(("/_", "/schedule-groups")) or path in ("", "/"):
            return
        bucket, _, key = path.lstrip("/").partition("/")
        if not key:
            if method == "GET" and "uploads" not in query:
                prefix = (query.get("prefix") or [None])[0]
                yield "s3", "s3:ListBucket", f"arn:aws:s3:::{bucket}", ({"s3:prefix": prefix} if prefix is not None else {})
            return
        action = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(method)
        if action:
            yield "events", f"s3:{action}", f"arn:aws:s3:::{bucket}/{key}", {}


class Faithful:
    def __init__(self, app, faults: Faults):
        self.app = app
        self.faults = faults
        # Messages held back (sqs_reorder) or to be delivered again (sqs_duplicate), by queue URL.
        self.held: dict[str, list] = {}
        # When each item was last written, by (table, key), for gsi_lag.
        self.written: dict[tuple, float] = {}
        # Counts by (caller, action, queue, what) (`/_emulator/meter`).
        self.meter: dict[tuple, int] = {}
        self.iam = Iam()

    def forward(self, environ, body: bytes):
        """moto's answer to `body`: status, headers and parsed JSON."""
        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        captured = {}

        def start(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        chunks = b"".join(self.app(environ, start))
        return captured["status"], captured["headers"], chunks

    def control(self, environ, start_response):
        """GET or POST /_emulator/faults: the rates in force, or a new spec for them."""
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = (environ["wsgi.input"].read(length) if length else b"").decode()
            problems = []
            rates = Faults.parse(spec, fail=problems.append)
            if problems:
                return respond(start_response, 400, {"message": problems[0]})
            self.faults.p = rates
        return respond(start_response, 200, {"faults": self.faults.p, "counts": self.faults.counts})

    def metering(self, environ, start_response):
        """GET /_emulator/meter: the requests counted so far; POST: the same, and a fresh count."""
        answer = {"requests": [
            {"caller": caller, "action": action, "queue": queue, "what": what, "n": n}
            for (caller, action, queue, what), n in self.meter.items()
        ]}
        if environ.get("REQUEST_METHOD") == "POST":
            self.meter = {}
        return respond(start_response, 200, answer)

    def count(self, caller: str, action: str, queue: str = "", what: str = "requests", n: int = 1) -> None:
        """Counts `n` of `what` (`requests`, their `entries`, or receives `delivering` messages) of
        `action` on `queue` (SQS; else "") by `caller` (`service`: the functions; `infra`: the
        stand-ins for Lambda's event source mappings and for Scheduler)."""
        if n:
            key = (caller, action, queue, what)
            self.meter[key] = self.meter.get(key, 0) + n

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_emulator/faults":
            return self.control(environ, start_response)
        if environ.get("PATH_INFO") == "/_emulator/meter":
            return self.metering(environ, start_response)
        if environ.get("PATH_INFO") == "/_emulator/iam":
            return self.iam.control(environ, start_response)
        agent = environ.get("HTTP_X_AMZ_USER_AGENT", "") + environ.get("HTTP_USER_AGENT", "")
        exempt = EXEMPT_APP in agent
        infra = INFRA_APP in agent
        caller = None if exempt else "infra" if infra else "service"
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            path = environ.get("PATH_INFO", "")
            if self.iam.policies:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                environ["wsgi.input"] = io.BytesIO(raw)
                try:
                    asked = json.loads(raw) if path.startswith("/schedules/") and raw else {}
                except ValueError:
                    asked = {}
                try:
                    self.iam.check(environ, "", asked)
                except Refusal as r:
                    return r.answer(start_response)
            if caller and path.startswith("/schedules/"):
                method = environ.get("REQUEST_METHOD")
                self.count(caller, {"POST": "Scheduler.CreateSchedule", "DELETE": "Scheduler.DeleteSchedule"}
                           .get(method, "Scheduler." + str(method)))
            if not (exempt or infra) and path.startswith("/schedules/"):
                return self.scheduler(environ, start_response)
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        service, _, operation = target.partition(".")
        if caller:
            self.count(caller, target, queue_of(body))
        if infra and target == "AmazonSQS.ReceiveMessage":
            return self.receive_unreliably(environ, start_response, body)
        if infra and target == "AmazonSQS.DeleteMessage" and self.delete_duplicate(body):
            return respond(start_response, 200, {})
        exempt = exempt or infra
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None
        if caller and isinstance(request, dict):
            entries = request.get("Entries") if target in ("AWSEvents.PutEvents", "AmazonSQS.SendMessageBatch") else None
            self.count(caller, target, queue_of(body), "entries", len(entries or []))
        try:
            self.iam.check(environ, target, request)
            if request is not None and service.startswith("DynamoDB_"):
                check_dynamodb(operation, request)
                fault = None if exempt else self.faults.dynamodb(operation, request)
                if fault == "unprocessed" and operation == "BatchWriteItem":
                    return self.batch_write_partly(environ, start_response, request)
                if fault == "unprocessed":
                    return self.batch_get_partly(environ, start_response, request)
                if fault is not None:
                    raise fault
            if not exempt and target == "AWSEvents.PutEvents" and self.faults.hit("events_denied"):
                raise Refusal(400, "AccessDeniedException",
                              "User is not authorized to perform: events:PutEvents on resource", service="events")
            if request is not None and not exempt and target == "AWSEvents.PutEvents":
                return self.put_events_partly(environ, start_response, request)
            if not exempt and target == "AmazonSQS.SendMessage" and self.faults.hit("send_message"):
                raise Refusal(500, "InternalError", "We encountered an internal error. Please try again.", service="sqs")
        except Refusal as r:
            return r.answer(start_response)
        capacity = None
        if request is not None and service.startswith("DynamoDB_") and request.get("ReturnConsumedCapacity") in ASKING:
            capacity = Capacity(self, environ, operation, request)
            capacity.start()
        status, headers, chunks = self.forward(environ, body)
        if request is not None and service.startswith("DynamoDB_") and status.startswith("200"):
            if capacity is not None:
                chunks = capacity.finish(chunks)
                headers = rewritten(headers, chunks)
            self.note_writes(operation, request)
            if operation == "Query" and request.get("IndexName") and not exempt and self.faults.p["gsi_lag"] > 0:
                chunks = self.lagging(request, chunks)
                headers = rewritten(headers, chunks)
        start_response(status, headers)
        return [chunks]

    def note_writes(self, operation: str, request: dict) -> None:
        """Remembers when each item was written (for gsi_lag)."""
        if self.faults.p["gsi_lag"] <= 0:
            return
        ops = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            ops = [request]
        elif operation == "TransactWriteItems":
            ops = [op for action in request.get("TransactItems") or [] for op in action.values()]
        now = time.monotonic()
        for op in ops:
            table = op.get("TableName")
            key = op.get("Key")
            if key is None and "Item" in op:
                names = key_names(table) or set()
                key = {k: v for k, v in op["Item"].items() if k in names}
            if key:
                self.written[(table, json.dumps(key, sort_keys=True))] = now

    def lagging(self, request: dict, chunks: bytes) -> bytes:
        """A query of an index as DynamoDB may answer it just after writes: without the items written
        less than gsi_lag seconds ago."""
        answer = json.loads(chunks)
        table = request.get("TableName")
        names = key_names(table) or set()
        lag = self.faults.p["gsi_lag"]
        now = time.monotonic()

        def settled(item):
            key = json.dumps({k: v for k, v in item.items() if k in names}, sort_keys=True)
            return now - self.written.get((table, key), -1e9) >= lag

        items = [i for i in answer.get("Items") or [] if settled(i)]
        if "Items" in answer:
            answer["Items"] = items
            answer["Count"] = len(items)
        return json.dumps(answer).encode()

    def scheduler(self, environ, start_response):
        """A schedule created or deleted by the service: `scheduler_errors` fails it as Scheduler does
        under load; `scheduler_early` moves a one-time schedule's time anywhere into the minute of its
        at() time, where AWS may fire it."""
        method = environ.get("REQUEST_METHOD")
        if method in ("POST", "DELETE") and self.faults.hit("scheduler_errors"):
            status, kind = self.faults.rng.choice([(429, "ThrottlingException"), (500, "InternalServerException")])
            data = json.dumps({"Message": "injected " + kind}).encode()
            start_response(f"{status} Error", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                ("x-amzn-ErrorType", kind),
            ])
            return [data]
        if method != "POST":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None
        at = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d):\d\d\)", (request or {}).get("ScheduleExpression") or "")
        if at and self.faults.hit("scheduler_early"):
            request["ScheduleExpression"] = f"at({at.group(1)}:{self.faults.rng.randrange(60):02d})"
            body = json.dumps(request).encode()
        status, headers, chunks = self.forward(environ, body)
        start_response(status, headers)
        return [chunks]

    def receive_unreliably(self, environ, start_response, body: bytes):
        """ReceiveMessage as a standard queue may answer: a message held back and delivered after later
        ones (`sqs_reorder`), a message delivered again after it was received (`sqs_duplicate`, with its
        own receipt handle, whose deletion deletes nothing more)."""
        try:
            queue = json.loads(body or b"{}").get("QueueUrl", "")
        except ValueError:
            queue = ""
        status, headers, chunks = self.forward(environ, body)
        if not status.startswith("200"):
            start_response(status, headers)
            return [chunks]
        answer = json.loads(chunks or b"{}")
        fresh = answer.get("Messages") or []
        held = self.held.pop(queue, [])
        out = []
        for m in fresh:
            if self.faults.hit("sqs_reorder"):
                self.held.setdefault(queue, []).append(m)
            else:
                out.append(m)
        self.faults.rng.shuffle(out)
        out += held
        for m in list(out):
            if self.faults.hit("sqs_duplicate"):
                copy_ = dict(m, ReceiptHandle="duplicate-" + str(self.faults.rng.getrandbits(64)))
                self.held.setdefault(queue, []).append(copy_)
        if out:
            answer["Messages"] = out
            self.count("infra", "AmazonSQS.ReceiveMessage", queue_of(body), "delivering")
        else:
            answer.pop("Messages", None)
        return respond(start_response, 200, answer)

    def delete_duplicate(self, body: bytes) -> bool:
        try:
            handle = json.loads(body or b"{}").get("ReceiptHandle", "")
        except ValueError:
            return False
        return handle.startswith("duplicate-")

    def batch_get_partly(self, environ, start_response, request):
        """Throttled BatchGetItem: answers part of the keys and returns the rest as UnprocessedKeys."""
        asked = request.get("RequestItems") or {}
        served, unprocessed = {}, {}
        for table, spec in asked.items():
            keys = spec.get("Keys") or []
            cut = self.faults.rng.randrange(len(keys) + 1) if keys else 0
            if keys[:cut]:
                served[table] = {**spec, "Keys": keys[:cut]}
            if keys[cut:]:
                unprocessed[table] = {**spec, "Keys": keys[cut:]}
        answer = {"Responses": {t: [] for t in asked}, "UnprocessedKeys": unprocessed}
        if served:
            status, _, chunks = self.forward(environ, json.dumps({**request, "RequestItems": served}).encode())
            got = json.loads(chunks)
            if not status.startswith("200"):
                return respond(start_response, int(status.split()[0]), got)
            answer["Responses"].update(got.get("Responses") or {})
        return respond(start_response, 200, answer)

    def batch_write_partly(self, environ, start_response, request):
        """Throttled BatchWriteItem: does part of the requests and returns the rest as UnprocessedItems
        (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html)."""
        asked = request.get("RequestItems") or {}
        served, unprocessed = {}, {}
        for table, writes in asked.items():
            cut = self.faults.rng.randrange(len(writes) + 1) if writes else 0
            if writes[:cut]:
                served[table] = writes[:cut]
            if writes[cut:]:
                unprocessed[table] = writes[cut:]
        if served:
            status, _, chunks = self.forward(environ, json.dumps({**request, "RequestItems": served}).encode())
            if not status.startswith("200"):
                return respond(start_response, int(status.split()[0]), json.loads(chunks))
        return respond(start_response, 200, {"UnprocessedItems": unprocessed})

    def put_events_partly(self, environ, start_response, request):
        """PutEvents whose failed entries fail inside a 200 answer, as EventBridge does:
        https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html"""
        entries = request.get("Entries") or []
        failing = [self.faults.hit("put_events") for _ in entries]
        if not any(failing):
            status, headers, chunks = self.forward(environ, json.dumps(request).encode())
            start_response(status, headers)
            return [chunks]
        passing = [e for e, f in zip(entries, failing) if not f]
        results = []
        if passing:
            status, headers, chunks = self.forward(environ, json.dumps({**request, "Entries": passing}).encode())
            if not status.startswith("200"):
                start_response(status, headers)
                return [chunks]
            results = list(json.loads(chunks).get("Entries") or [])
        out = []
        for f in failing:
            if f:
                out.append({"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error."})
            else:
                out.append(results.pop(0) if results else {})
        return respond(start_response, 200, {"FailedEntryCount": sum(failing), "Entries": out})


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _rollback_keeps_the_stream()
    _query_reads_its_partition()
    _update_writes_one_record()
    _modules_listed_once()
    seed = os.environ.get("EMULATOR_SEED")
    faults = Faults(os.environ.get("EMULATOR_FAULTS", ""), int(seed) if seed else None)
    app = Faithful(DomainDispatcherApplication(create_backend_app), faults)
    server = make_server("127.0.0.1", port, app, threaded=False, processes=1)
    on = ", ".join(f"{k}={v}" for k, v in faults.p.items() if v) or "off"
    print(f"PORT {server.server_port}", flush=True)
    print(f"emulator on 127.0.0.1:{server.server_port}; faults {on}; seed {seed or 'random'}", file=sys.stderr, flush=True)

    def exit_with_parent() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
