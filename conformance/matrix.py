"""The conformance matrix as records, and the one module that writes and reads conformance.json.

A Matrix is the document: the servers probed, a Row per corpus case (the case and a Cell per
server: that server's answer and its flags) and the Totals. `from_json` and `to_json` are the
file's one schema, key for key and in the file's order, so a matrix read and written again is the
same bytes. What a file may lack (a compacted copy keeps only what the README reads; an older probe
judged no substance and counted no reference columns) is None on the record and left out again.
It holds and converts only: it never probes, never renders, and never imports a report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue] | None"
JSONObject: TypeAlias = dict[str, JSONValue]
Document: TypeAlias = Mapping[str, Any]  # conformance.json as json.loads gives it: the shape from_json reads

SCHEMA = 1
KIND = "server-layers conformance"
FILE_NAME = "conformance.json"


def optional(pairs: Sequence[tuple[str, JSONValue]]) -> JSONObject:
    """The pairs whose value is not None, in order: a field a file lacked stays out of it."""
    return {key: value for key, value in pairs if value is not None}


def strings(values: Sequence[str] | None) -> list[JSONValue] | None:
    return None if values is None else list(values)


def tuple_of(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@dataclass(frozen=True, kw_only=True)
class Echo:
    """What /echo said it parsed of the request (its JSON, these keys only)."""

    method: JSONValue
    target: JSONValue
    version: JSONValue
    headers: JSONValue
    body_base64: JSONValue

    @classmethod
    def from_json(cls, data: Document) -> Echo:
        return cls(method=data["method"], target=data["target"], version=data["version"], headers=data["headers"],
                   body_base64=data["body_base64"])

    def to_json(self) -> JSONObject:
        return {"method": self.method, "target": self.target, "version": self.version, "headers": self.headers,
                "body_base64": self.body_base64}


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One server's answer to one case: its outcome, the problems against the contract (corpus.check), whether
    they are in substance, and whether it differs from the other servers (`differs_from`: the ones it differs
    from). The rest (status lines, the connection, the fingerprint, /echo's views) a compacted copy drops."""

    outcome: str
    problems: tuple[str, ...] = ()
    substance: bool | None = None  # None: a probe from before substance was judged
    diverges: bool = False
    differs_from: tuple[str, ...] | None = None
    responses: tuple[str, ...] | None = None
    extra: tuple[str, ...] | None = None
    then: str | None = None
    fingerprint: str | None = None
    echo: tuple[Echo | None, ...] | None = None  # only for a case that asks /echo

    @classmethod
    def from_json(cls, data: Document) -> Cell:
        echo = data.get("echo")
        return cls(outcome=data["outcome"], problems=tuple(data["problems"]), substance=data.get("substance"),
                   diverges=data["diverges"], differs_from=tuple_of(data.get("differs_from")),
                   responses=tuple_of(data.get("responses")), extra=tuple_of(data.get("extra")),
                   then=data.get("then"), fingerprint=data.get("fingerprint"),
                   echo=None if echo is None else tuple(None if view is None else Echo.from_json(view)
                                                        for view in echo))

    def to_json(self) -> JSONObject:
        echo: list[JSONValue] | None = None if self.echo is None else [
            None if view is None else view.to_json() for view in self.echo]
        return optional([("responses", strings(self.responses)), ("extra", strings(self.extra)), ("then", self.then),
                         ("outcome", self.outcome), ("problems", list(self.problems)), ("substance", self.substance),
                         ("fingerprint", self.fingerprint), ("echo", echo), ("diverges", self.diverges),
                         ("differs_from", strings(self.differs_from))])


MISSING = Cell(outcome="?")  # what a renderer shows for a server that has no cell in a row


@dataclass(frozen=True, kw_only=True)
class Row:
    """One corpus case: what it sends (the request, cut short) and expects, and a Cell per server."""

    id: str
    expected: str = ""
    cells: Mapping[str, Cell] = field(default_factory=dict)
    title: str | None = None
    spec: str | None = None
    unsure: bool | None = None
    note: str | None = None
    request: str | None = None

    @classmethod
    def from_json(cls, data: Document) -> Row:
        return cls(id=data["id"], title=data.get("title"), spec=data.get("spec"), unsure=data.get("unsure"),
                   note=data.get("note"), request=data.get("request"), expected=data["expected"],
                   cells={name: Cell.from_json(cell) for name, cell in data["cells"].items()})

    def to_json(self) -> JSONObject:
        cells: JSONObject = {name: cell.to_json() for name, cell in self.cells.items()}
        return optional([("id", self.id), ("title", self.title), ("spec", self.spec), ("unsure", self.unsure),
                         ("note", self.note), ("request", self.request), ("expected", self.expected),
                         ("cells", cells)])


@dataclass(frozen=True, kw_only=True)
class Server:
    """A server probed: where it listened; for one the probe started, its command, and once stopped its exit
    status (None: unknown) and the tracebacks on its stderr. A reference column is probed alike, never counted."""

    address: str | None = None
    reference: bool = False
    command: str | None = None
    exit_status: int | None = None
    tracebacks: int | None = None  # None: not stopped by the probe (then no exit status either)

    @classmethod
    def from_json(cls, data: Document) -> Server:
        return cls(address=data.get("address"), reference=bool(data.get("reference")), command=data.get("command"),
                   exit_status=data.get("exit_status"), tracebacks=data.get("tracebacks"))

    def to_json(self) -> JSONObject:
        result = optional([("address", self.address), ("reference", True if self.reference else None),
                           ("command", self.command)])
        if self.tracebacks is not None:
            result |= {"exit_status": self.exit_status, "tracebacks": self.tracebacks}
        return result


@dataclass(frozen=True, kw_only=True)
class ReferenceCounts:
    """A reference column's own counts: cases differing from the contract, and of those in substance."""

    contract: int
    substance: int

    def to_json(self) -> JSONObject:
        return {"contract": self.contract, "substance": self.substance}


@dataclass(frozen=True, kw_only=True)
class Totals:
    """The project's servers' counts (never the reference columns'; theirs are in `references`)."""

    cases: int = 0
    servers: int = 0
    cells: int = 0
    contract: int = 0
    diverging: int = 0
    cases_flagged: int = 0
    unsure: int = 0
    references: Mapping[str, ReferenceCounts] | None = None  # None: a probe from before reference columns

    @classmethod
    def from_json(cls, data: Document) -> Totals:
        found = data.get("references")
        return cls(cases=data["cases"], servers=data["servers"], cells=data["cells"], contract=data["contract"],
                   diverging=data["diverging"], cases_flagged=data["cases_flagged"], unsure=data["unsure"],
                   references=None if found is None else {
                       name: ReferenceCounts(contract=r["contract"], substance=r["substance"])
                       for name, r in found.items()})

    def to_json(self) -> JSONObject:
        references: JSONObject | None = None if self.references is None else {
            name: counts.to_json() for name, counts in self.references.items()}
        return optional([("cases", self.cases), ("servers", self.servers), ("cells", self.cells),
                         ("contract", self.contract), ("diverging", self.diverging),
                         ("cases_flagged", self.cases_flagged), ("unsure", self.unsure), ("references", references)])


@dataclass(frozen=True, kw_only=True)
class Matrix:
    """The document: when it was probed, the servers (in column order), a Row per case, the totals."""

    started: str
    finished: str
    servers: Mapping[str, Server] = field(default_factory=dict)
    rows: tuple[Row, ...] = ()
    totals: Totals = field(default_factory=Totals)
    timeout_s: float | None = None  # None: a compacted copy
    schema: int = SCHEMA
    kind: str = KIND

    @property
    def references(self) -> set[str]:
        """The reference columns: probed beside the project's servers, never counted as theirs."""
        return {name for name, info in self.servers.items() if info.reference}

    @classmethod
    def from_json(cls, data: Document) -> Matrix:
        return cls(schema=data["schema"], kind=data["kind"], started=data["started"], finished=data["finished"],
                   timeout_s=data.get("timeout_s"),
                   servers={name: Server.from_json(info) for name, info in data["servers"].items()},
                   rows=tuple(Row.from_json(row) for row in data["cases"]), totals=Totals.from_json(data["totals"]))

    def to_json(self) -> JSONObject:
        servers: JSONObject = {name: info.to_json() for name, info in self.servers.items()}
        return optional([("schema", self.schema), ("kind", self.kind), ("started", self.started),
                         ("finished", self.finished), ("timeout_s", self.timeout_s), ("servers", servers),
                         ("cases", [row.to_json() for row in self.rows]), ("totals", self.totals.to_json())])

    def compact(self) -> Matrix:
        """The matrix without what the README's block never reads (requests, echo views, fingerprints, status
        lines, addresses, the timeout): small enough to commit (docs/results/conformance/)."""
        return dataclasses.replace(
            self, timeout_s=None,
            servers={name: Server(reference=info.reference, command=info.command)
                     for name, info in self.servers.items()},
            rows=tuple(Row(id=row.id, expected=row.expected, cells={
                name: Cell(outcome=cell.outcome, problems=cell.problems, substance=cell.substance,
                           diverges=cell.diverges) for name, cell in row.cells.items()}) for row in self.rows))


def read_matrix(path: Path) -> Matrix:
    """conformance.json at `path`; OSError, ValueError (not JSON) or KeyError/TypeError (not a matrix) as raised."""
    return Matrix.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_matrix(matrix: Matrix, path: Path) -> Path:
    """`matrix` as conformance.json at `path` (its folder made): indented by one, one newline at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(matrix.to_json(), indent=1) + "\n", encoding="utf-8")
    return path


COMPACT_ORDER = ("schema", "kind", "started", "finished", "totals", "servers", "cases")  # the committed copy's


def write_compact(matrix: Matrix, path: Path) -> Path:
    """`matrix` compacted (Matrix.compact) as the README's committed copy at `path`: its keys in that file's order,
    one key a line, one newline at the end."""
    document = matrix.compact().to_json()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({key: document[key] for key in COMPACT_ORDER}, indent=0) + "\n", encoding="utf-8")
    return path
