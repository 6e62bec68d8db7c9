"""The long fuzz run of the sans-IO parser (http11.RequestParser), outside pytest.

    .venv/bin/python tools/fuzz_parser.py --count 1000000          # all cores; see "measured" below
    .venv/bin/python tools/fuzz_parser.py --count 50000 --jobs 1 --seed 7
    .venv/bin/python tools/fuzz_parser.py --replay fuzz-failure-7-12.json   # re-check a saved failure
    .venv/bin/python tools/fuzz_parser.py --atheris -- -runs=1000000        # optional: pip install atheris

Each input is a pipeline of 1-3 requests built from the RFC 9112 grammar (every
target form, fields with optional white space, Content-Length or chunked bodies
with extensions and trailers, CRLF or bare-LF heads, blank lines before a
request), mutated 0-4 times in most cases (bytes inserted, deleted, replaced;
lines dropped, duplicated, swapped, added; line ends shifted; white space
around colons; numbers off by a few; truncation), then fed whole and in random
pieces (sometimes one byte at a time). The properties, as in tests/test_fuzz.py:

- the parser returns Requests or raises its own ProtocolError with a SPEC §5
  status (400, 413, 414, 431, 501, 505), never anything else;
- whole or split, the outcome (the requests, then the status or idleness) is the same;
- an unmutated pipeline parses to exactly what was built.

Every 5 s it prints the count and inputs/s; at the end, one line
`N inputs, 0 violations, S s, R inputs/s`. On a violation it writes the input to
`fuzz-failure-SEED-BATCH.json` (bytes as a latin-1 string, the split points, the
problem), prints it and exits 1. Runs are reproducible: batch B of seed S is
always the same inputs. Measured on the 2-core project machine: 1,000,000 inputs
in 189 s with --jobs 2 (5,300 inputs/s; 3,750 on one core).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from http11 import Request
from http11.limits import MAX_CHUNK_SIZE_DIGITS
from http11.parser import parse_chunks
from oneline import OneLineParser

PARSER_STATUSES = {400, 413, 414, 431, 501, 505}
BATCH = 2000
DIGIT = "0123456789"
HEX = DIGIT + "abcdefABCDEF"
ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TCHAR = "!#$%&'*+-.^_`|~" + DIGIT + ALPHA
PCHAR = ALPHA + DIGIT + "-._~!$&'()*+,;=:@"
REG_NAME = ALPHA + DIGIT + "-._~!$&'()*+;="
VALUE_CHARS = "".join(map(chr, [*range(0x21, 0x7F), *range(0x80, 0x100)])) + " \t"
QDTEXT = "".join(map(chr, [0x09, 0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F), *range(0x80, 0x100)]))
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"]
NAMES = ["Accept", "User-Agent", "X-Test", "Cookie", "Connection", "Via", "TE", "Trailer", "Content-Type", "x-y"]
EOLS = [b"\r\n", b"\r\n", b"\r\n", b"\n"]
OWS = ["", "", " ", "  ", "\t", " \t "]
NASTY_FIELDS = [
    b"Host: other.test\r\n", b"Host:\r\n", b"Content-Length: 3\r\n", b"Content-Length: 1, 2\r\n",
    b"Content-Length: +1\r\n", b"Content-Length: 99999999999999999999\r\n", b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n", b"Transfer-Encoding: gzip, chunked\r\n", b"Transfer-Encoding: chunked, chunked\r\n",
    b"X: a\x00b\r\n", b" folded\r\n", b"\tfolded\r\n", b"no colon\r\n", b"X : y\r\n", b": empty\r\n",
    b"X:\x0by\r\n", b"Expect: nothing\r\n", b"Expect: 100-continue\r\n", b"X: \x85\xa0\r\n", b"X: a\rb\r\n", b" \r\n",
]
INTERESTING = b"\r\n \t:;=\",\\\x00\x0b\x7f\x80\x85\xff0aF%/?#@*"
LINE_ENDS = [b"\n", b"\r\n", b"\r", b"\r\r\n", b"\n\r", b"", b"\r\n\r\n", b" \r\n"]
VERSIONS = [b"HTTP/1.2", b"HTTP/2.0", b"HTTP/01.1", b"HTTP/1.1 ", b"HTTP/1", b"http/1.1", b"HTTP/1.10", b"HTTP/0.9"]


class Generator(random.Random):
    """Valid pipelines from the grammar, and mutations of them (same seed, same inputs)."""

    def text(self, alphabet: str, low: int, high: int) -> str:
        return "".join(self.choices(alphabet, k=self.randint(low, high)))

    def pct(self, path: bool) -> str:
        while True:
            code = self.choice(HEX) + self.choice(HEX)
            if not path or code.lower() not in ("00", "0a", "0d"):
                return "%" + code

    def origin(self) -> str:
        path = "/" + "".join(self.pct(True) if self.random() < 0.1 else self.choice(PCHAR + "/")
                             for _ in range(self.randint(0, 10)))
        if self.random() < 0.4:
            path += "?" + "".join(self.pct(False) if self.random() < 0.1 else self.choice(PCHAR + "/?")
                                  for _ in range(self.randint(0, 8)))
        return path

    def host_name(self) -> str:
        if self.random() < 0.15:
            return "[" + self.text(HEX + ":.", 1, 12) + "]"
        return "".join(self.pct(False) if self.random() < 0.05 else self.choice(REG_NAME)
                       for _ in range(self.randint(1, 10)))

    def host(self) -> str:
        return self.host_name() + (":" + self.text(DIGIT, 0, 5) if self.random() < 0.4 else "")

    def method_target(self) -> tuple[str, str]:
        form = self.random()
        if form < 0.05:
            return "OPTIONS", "*"
        if form < 0.1:
            return "CONNECT", f"{self.host_name()}:{self.text(DIGIT, 1, 5)}"
        method = self.choice(METHODS) if self.random() < 0.8 else self.text(TCHAR, 1, 32)
        method = "GET" if method == "CONNECT" else method
        if form < 0.25:
            scheme = self.choice(["http", "https", "a+b-c.d"])
            tail = self.choice(["", self.origin(), "?" + self.origin().partition("?")[2]])
            return method, f"{scheme}://{self.host()}{tail}"
        return method, self.origin()

    def value(self) -> str:
        return self.text(VALUE_CHARS, 0, 20).strip(" \t")

    def name(self) -> str:
        while True:
            name = self.choice(NAMES) if self.random() < 0.5 else self.text(TCHAR, 1, 12)
            if name.lower() not in ("host", "content-length", "transfer-encoding", "expect"):
                return name

    def field(self, name: str, value: str) -> bytes:
        return f"{name}:{self.choice(OWS)}{value}{self.choice(OWS)}".encode("latin-1") + self.choice(EOLS)

    def extensions(self) -> bytes:
        out = ""
        for _ in range(self.choice([0, 0, 1, 2])):
            out += self.choice(["", " ", "\t"]) + ";" + self.choice(["", " "]) + self.text(TCHAR, 1, 6)
            if self.random() < 0.5:
                if self.random() < 0.5:
                    value = self.text(TCHAR, 1, 6)
                else:
                    value = '"' + "".join(self.choice(QDTEXT) if self.random() < 0.8 else "\\" + self.choice(QDTEXT)
                                          for _ in range(self.randint(0, 6))) + '"'
                out += self.choice(["", " "]) + "=" + self.choice(["", "\t"]) + value
        return out.encode("latin-1")

    def size(self, size: int) -> bytes:
        digits = f"{size:x}"
        digits = "0" * self.randint(0, 2 if self.random() < 0.9 else MAX_CHUNK_SIZE_DIGITS - len(digits)) + digits
        return (digits.upper() if self.random() < 0.5 else digits).encode("ascii")

    def request(self) -> tuple[list[bytes], Request]:
        method, target = self.method_target()
        version = self.choice(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"])
        fields = [(self.name(), self.value()) for _ in range(self.randint(0, 4))]
        if version == "HTTP/1.1" or self.random() < 0.5:
            fields.append((self.choice(["Host", "host"]), self.host()))
        framing = self.choice(["none", "length", "chunked"] if version == "HTTP/1.1" else ["none", "length"])
        body = self.randbytes(self.randint(0, 40)) if framing != "none" else b""
        if framing == "length":
            fields.append(("Content-Length", str(len(body)) if self.random() < 0.9 else f"{len(body)}, {len(body)}"))
        elif framing == "chunked":
            fields.append(("Transfer-Encoding", self.choice(["chunked", "Chunked"])))
        expect = None
        if version == "HTTP/1.1" and self.random() < 0.1:
            fields.append(("Expect", "100-continue"))
            expect = "continue"
        self.shuffle(fields)
        pieces = [self.choice(EOLS) for _ in range(self.randint(0, 2) if self.random() < 0.2 else 0)]
        pieces.append(f"{method} {target} {version}".encode("latin-1") + self.choice(EOLS))
        pieces += [self.field(name, value) for name, value in fields]
        pieces.append(self.choice(EOLS))
        if framing == "length":
            pieces.append(body)
        elif framing == "chunked":
            cuts = sorted(self.sample(range(1, len(body)), min(len(body) - 1, self.randint(0, 3)))) if body else []
            for part in [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)] if body else []:
                pieces += [self.size(len(part)) + self.extensions() + b"\r\n", part, b"\r\n"]
            pieces.append(self.size(0) + self.extensions() + b"\r\n")
            pieces += [f"{self.text(TCHAR, 1, 8)}:{self.choice(OWS)}{self.value()}".encode("latin-1") + b"\r\n"
                       for _ in range(self.choice([0, 0, 1, 2]))]
            pieces.append(b"\r\n")
        return pieces, Request(method, target, version, fields, body, expect)

    def mutate_pieces(self, pieces: list[bytes]) -> None:
        index = self.randrange(len(pieces))
        piece = pieces[index]
        op = self.randrange(12)
        if op == 0:
            del pieces[index]
        elif op == 1:
            pieces.insert(index, piece)
        elif op == 2:
            pieces.insert(index, self.choice(NASTY_FIELDS) if self.random() < 0.6 else
                          f"{self.name()}: {self.value()}\r\n".encode("latin-1"))
        elif op == 3:
            pieces[index] = piece.rstrip(b"\r\n") + self.choice(LINE_ENDS)
        elif op == 4 and b":" in piece:
            name, _, rest = piece.partition(b":")
            pieces[index] = name + self.choice([b" ", b"\t"]) + b":" + rest
        elif op == 5:
            pieces[index] = self.choice([b" ", b"\t"]) + piece
        elif op == 6:
            cut = len(piece.rstrip(b"\r\n"))
            pieces[index] = piece[:cut] + self.choice([b" ", b"\t", b"\x0b", b"\x0c", b"\x00"]) + piece[cut:]
        elif op == 7:
            pieces[index] = piece.lower() if self.random() < 0.5 else piece.upper()
        elif op == 8:
            digits = [i for i, c in enumerate(piece) if 0x30 <= c <= 0x39]
            if digits:
                at = self.choice(digits)
                pieces[index] = piece[:at] + str(self.choice([0, 1, 2, 9, 10, 99])).encode() + piece[at + 1 :]
        elif op == 9 and index + 1 < len(pieces):
            pieces[index], pieces[index + 1] = pieces[index + 1], piece
        elif op == 10 and b" HTTP/1." in piece:
            start = piece.rfind(b" HTTP/1.") + 1
            pieces[index] = piece[:start] + self.choice(VERSIONS) + piece[start + 8 :]
        elif op == 11:
            at = self.randint(0, len(piece))
            pieces[index] = piece[:at] + b"\r" + piece[at:]

    def mutate_bytes(self, data: bytes) -> bytes:
        at = self.randint(0, max(0, len(data) - 1))
        byte = bytes([self.choice(INTERESTING) if self.random() < 0.6 else self.randrange(256)])
        op = self.randrange(4)
        if op == 0:
            return data[:at] + byte + data[at + 1 :]
        if op == 1:
            return data[:at] + byte + data[at:]
        if op == 2:
            return data[:at] + data[at + 1 :]
        return data[:at]

    def case(self) -> tuple[bytes, list[Request] | None]:
        """An input, and what it must parse to when it was not mutated (else None)."""
        built = [self.request() for _ in range(self.choice([1, 1, 2, 3]))]
        pieces = [piece for request_pieces, _ in built for piece in request_pieces]
        if self.random() < 0.2:
            return b"".join(pieces), [request for _, request in built]
        for _ in range(self.choice([0, 1, 1, 2])):
            self.mutate_pieces(pieces)
        data = b"".join(pieces)
        for _ in range(self.choice([0, 1, 1, 2])):
            data = self.mutate_bytes(data)
        return data, None

    def cuts(self, data: bytes) -> list[int]:
        if self.random() < 0.05 and len(data) < 400:
            return list(range(1, len(data)))
        return sorted(self.randint(0, len(data)) for _ in range(self.randint(1, 8)))


outcome = parse_chunks  # requests out of the chunks, then the refusal's status or whether the parser is idle


def violation(data: bytes, cuts: list[int], expected: list[Request] | None) -> tuple[str | None, str]:
    """What is wrong with the parser on this input (None: nothing), and a label for the statistics."""
    try:
        whole = outcome([data])
    except Exception as exc:
        return f"whole input raised {type(exc).__name__}: {exc}", "crash"
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    try:
        pieces = outcome(chunks)
    except Exception as exc:
        return f"split input raised {type(exc).__name__}: {exc}", "crash"
    state = whole[1]
    label = str(state) if type(state) is int else ("parsed" if state else "incomplete")
    if type(state) is int and state not in PARSER_STATUSES:
        return f"status {state} is not one of {sorted(PARSER_STATUSES)}", label
    if pieces != whole:
        return f"whole gives {whole!r}, split at {cuts} gives {pieces!r}", label
    if expected is not None and whole != (expected, True):
        return f"built {expected!r}, parsed {whole!r}", label
    return None, label


def run_batch(task: tuple[int, int, int]) -> tuple[int, Counter[str], dict | None]:
    """`count` inputs of batch `batch` (seeded from `seed`); the first violation stops it."""
    seed, batch, count = task
    generator = Generator(seed * 1_000_003 + batch)
    labels: Counter[str] = Counter()
    for done in range(count):
        data, expected = generator.case()
        cuts = generator.cuts(data)
        problem, label = violation(data, cuts, expected)
        labels[label] += 1
        labels["valid" if expected is not None else "mutated"] += 1
        if problem:
            return done + 1, labels, {"seed": seed, "batch": batch, "index": done, "problem": problem,
                                      "data": data.decode("latin-1"), "cuts": cuts}
    return count, labels, None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="tools/fuzz_parser.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs to try (default 1,000,000)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default: random, printed)")
    parser.add_argument("--out", type=Path, default=Path("."), help="where a failing input is written")
    parser.add_argument("--replay", type=Path, help="re-check one saved failure file and exit")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided run with atheris (optional)")
    args, rest = parser.parse_known_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.atheris:
        return run_atheris(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)} (only --atheris passes arguments on)")
    if min(args.count, args.jobs) < 1:
        parser.error("--count and --jobs must be at least 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    print(f"fuzzing http11.RequestParser: {args.count} inputs, {args.jobs} job(s), seed {seed}", flush=True)
    tasks = [(seed, batch, min(BATCH, args.count - batch * BATCH)) for batch in range(-(-args.count // BATCH))]
    started = last_report = time.monotonic()
    total, labels = 0, Counter[str]()
    with Pool(args.jobs) as pool:
        for done, batch_labels, failure in pool.imap_unordered(run_batch, tasks):
            total += done
            labels += batch_labels
            if failure:
                pool.terminate()
                return report_failure(failure, args.out, total, started)
            now = time.monotonic()
            if now - last_report >= 5:
                last_report = now
                print(f"  {total} inputs, {total / (now - started):.0f} inputs/s", flush=True)
    elapsed = time.monotonic() - started
    outcomes = ", ".join(f"{key}: {value}" for key, value in sorted(labels.items()))
    print(f"outcomes: {outcomes}")
    print(f"{total} inputs, 0 violations, {elapsed:.1f} s, {total / elapsed:.0f} inputs/s", flush=True)
    return 0


def report_failure(failure: dict, out: Path, total: int, started: float) -> int:
    path = out / f"fuzz-failure-{failure['seed']}-{failure['batch']}.json"
    path.write_text(json.dumps(failure, indent=2) + "\n", encoding="utf-8")
    print(f"VIOLATION: {failure['problem']}")
    print(f"input: {failure['data'].encode('latin-1')!r}")
    print(f"split at: {failure['cuts']}; written to {path}")
    print(f"{total} inputs, 1 violation, {time.monotonic() - started:.1f} s", flush=True)
    return 1


def replay(path: Path) -> int:
    failure = json.loads(path.read_text(encoding="utf-8"))
    data = failure["data"].encode("latin-1")
    problem, label = violation(data, failure["cuts"], None)
    print(f"input: {data!r}\noutcome: {label}\n{'VIOLATION: ' + problem if problem else 'no violation now'}")
    return 1 if problem else 0


def run_atheris(libfuzzer_args: list[str]) -> int:
    """Coverage-guided: libFuzzer drives the seed of the generator, the split, or the raw bytes."""
    try:
        import atheris
    except ImportError:
        print("atheris is not installed: .venv/bin/pip install atheris (optional)", file=sys.stderr)
        return 2
    atheris.instrument_all()  # http11 is imported already: instrument what is loaded

    def one_input(buffer: bytes) -> None:
        provider = atheris.FuzzedDataProvider(buffer)
        mode = provider.ConsumeIntInRange(0, 2)
        generator = Generator(provider.ConsumeInt(8))
        if mode == 0:  # libFuzzer's own bytes, split where the generator says
            data, expected = provider.ConsumeBytes(provider.remaining_bytes()), None
        else:  # a generated input, then libFuzzer's bytes appended or spliced in
            data, expected = generator.case()
            extra = provider.ConsumeBytes(provider.remaining_bytes())
            if mode == 2 and extra:
                expected, at = None, generator.randint(0, len(data))
                data = data[:at] + extra + data[at:]
        problem, _ = violation(data, generator.cuts(data), expected)
        if problem:
            raise AssertionError(f"{problem}\ninput: {data!r}")

    atheris.Setup([sys.argv[0], *(arg for arg in libfuzzer_args if arg != "--")], one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
