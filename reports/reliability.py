"""The README's reliability blocks: what hostile clients cost each server, and a soak of every concurrent variant.

Both are rendered from committed runs (`server-layers hostile`'s hostile.json, `server-layers soak
--variants all`'s soaks.json); every figure comes from those files. Nothing here measures.
"""

from bench import soak

from . import data

MEMORY_AIM_MIB = 0.5  # issue 22: per hostile connection, beside the SPEC's "well under 1 MiB"
CLOSE_MARGIN_S = 2.0  # issue 22: closed within --send-timeout + this once stalled
CASE_WORDS = {
    "pipelining": "pipeline 64 KiB, never read",
    "slow_readers": "read the largest file 1 B/s",
    "mix": "both, beside keep-alive clients",
}


def variant(row: dict) -> str:
    return f"{row['layer']}/{row['model']}"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def hostile_row(row: dict) -> str:
    memory, closes, normal = row["memory"], row["closes"], row["normal"]
    hostile = row["pipelining"] + row["slow_readers"]
    return (f"| {variant(row)} | {CASE_WORDS.get(row['case'], row['case'])} | {hostile} | "
            f"{memory['growth_per_connection_mib']:.2f} | {closes['in_time']}/{closes['connections']} | "
            f"{seconds(closes['median_s'])} / {seconds(closes['max_s'])} | "
            f"{ms(normal['p50_ms'])} / {ms(normal['p99_ms'])} / {ms(normal['max_ms'])} | "
            f"{ms(row.get('amid_burst_ms'))} | {normal['failures']} of {normal['requests'] + normal['failures']} |")


def hostile_summary(doc: dict) -> list[str]:
    """What the table says, in two sentences: the largest memory figure and the closes, then the normal clients."""
    rows = doc["rows"]
    worst = max(rows, key=lambda row: row["memory"]["growth_per_connection_mib"])
    in_time = sum(row["closes"]["in_time"] for row in rows)
    connections = sum(row["closes"]["connections"] for row in rows)
    medians = [row["normal"]["p50_ms"] for row in rows if row["normal"]["p50_ms"] is not None]
    failures = sum(row["normal"]["failures"] for row in rows)
    timeout = doc["environment"]["send_timeout_s"]
    below = sum(row["memory"]["growth_per_connection_mib"] < MEMORY_AIM_MIB for row in rows)
    probed = [row for row in rows if not row["normal_clients"]]
    mixed = [row for row in rows if row["normal_clients"]]
    return [
        f"- Memory: {below} of {len(rows)} cases stay under {MEMORY_AIM_MIB} MiB per hostile connection; the most is "
        f"{worst['memory']['growth_per_connection_mib']:.2f} MiB ({variant(worst)}, {worst['case']}). "
        f"{in_time} of {connections} hostile connections were closed within --send-timeout + {CLOSE_MARGIN_S:g} s "
        f"({timeout:g} + {CLOSE_MARGIN_S:g} s) of their stall.",
        f"- Normal clients: medians {ms(min(medians))}–{ms(max(medians))} ms, {failures} failed. The slowest single "
        f"request while the hostile clients hold took {slowest(probed, 'max_ms')}; in the mix, whose keep-alive "
        f"clients are timed through the burst too, {slowest(mixed, 'max_ms')}. A request sent the moment they "
        f"finished sending waits behind the server's answers to them until its send buffers are full: "
        f"{slowest(probed, 'amid_burst_ms', low=True)}.",
    ]


def slowest(rows: list[dict], figure: str, low: bool = False) -> str:
    """The most ms of `figure` (a normal-latency figure, or amid_burst_ms) over `rows`, and whose it is; with
    `low`, the fewest before it."""
    def value(row: dict) -> float | None:
        return row.get(figure) if figure == "amid_burst_ms" else row["normal"][figure]

    timed = [(found, row) for row in rows if (found := value(row)) is not None]
    if not timed:
        return "–"
    most, high = max(timed, key=lambda pair: pair[0])
    fewest = f"{ms(min(found for found, _ in timed))}–" if low else ""
    return f"{fewest}{ms(most)} ms ({variant(high)}, {high['case']})"


def render_hostile(doc: dict) -> str:
    env = doc["environment"]
    largest = env["largest_static"]
    lines = [
        "| variant | hostile clients that… | count | memory per hostile connection, MiB | closed in time | "
        "closed after, median / max s | normal client while they hold, p50 / p99 / max, ms | "
        "normal client amid their burst, ms | normal failures |",
        "|---|---|---|---|---|---|---|---|---|",
        *(hostile_row(row) for row in doc["rows"]),
        "",
        *hostile_summary(doc),
        "",
        f"<sub>Each case on a fresh server with --send-timeout {env['send_timeout_s']:g}; "
        f"{env['connections']} pipelining clients ({env['pipelined_requests']} requests each, receive buffer "
        f"{env['client_rcvbuf']} bytes), {env['slow_readers']} slow readers of {largest['path']} "
        f"({largest['bytes'] // 1024} KiB), the mix with half of each beside {env['mix_clients']} keep-alive "
        f"clients. Memory: {env['memory_measure']}, peak over idle with the connections open, per hostile "
        "connection (in the mix it also holds what the keep-alive clients' connections cost: on a forking model, "
        f"a process each). Normal clients: {env['probes']} requests on fresh connections, one every "
        f"{env['probe_every_s']:g} s, the first as the hostile clients finish sending (amid their burst), "
        "the others while they hold; in the mix, the keep-alive clients all the while, burst included. Measured on "
        f"{data.measured_on(env)}, commit {env['git_commit'][:7]}. Data: `docs/results/hostile/hostile.json`.</sub>",
    ]
    return "\n".join(lines)


def soak_row(run: dict) -> str:
    samples, hostile = run["samples"], run["hostile"]
    opened, closed = hostile["opened"], hostile["closed_by_server"]
    return (f"| {run['layer']}/{run['model']} | {run['minutes']:g} | {run['requests']:,} | {run['errors']} | "
            f"{soak.own_rss(samples[0]):.1f} → {soak.own_rss(samples[-1]):.1f} ({100 * run['rss_growth']:+.1f}%) | "
            f"{max(sample['rss_mb'] for sample in samples):.1f} | "
            f"{run['fd_drift']:+d} | {run['threads']['min']}–{run['threads']['max']} | "
            f"{sum(opened.values())} / {sum(closed.values())} | {hostile['stuck']} | "
            f"{'yes' if run['passed'] else '**no**'} |")


def failures(run: dict) -> list[str]:
    """Which of the soak's rules a run broke, with its figure."""
    broken = [f"RSS {100 * run['rss_growth']:+.1f}%" if run["rss_growth"] >= soak.MAX_RSS_GROWTH else "",
              f"fd drift {run['fd_drift']:+d}" if run["fd_drift"] > soak.FD_SLACK else "",
              f"{run['errors']} errors" if run["errors"] else "",
              f"{run['hostile']['stuck']} hostile clients stuck" if run["hostile"]["stuck"] else "",
              f"server exit {run['server_exit']}" if run["server_exit"] != 0 else ""]
    return [rule for rule in broken if rule] or ["see its soak.json"]


def render_soak(doc: dict) -> str:
    runs = doc["runs"]
    first = runs[0]
    passed = sum(run["passed"] for run in runs)
    lines = [
        "| variant | minutes | normal requests | errors | main process RSS MiB, first → last (growth after the "
        "warm-up) | process tree RSS MiB, most | fd drift | threads | hostile opened / closed by the server | stuck | "
        "passed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(soak_row(run) for run in runs),
        "",
        f"A variant passes when its main process's RSS grows by less than {soak.MAX_RSS_GROWTH:.0%} after the "
        "warm-up (the first tenth), the fewest fds it holds beside the connections it is serving do not rise (by "
        f"more than {soak.FD_SLACK}), no normal request fails and the server closes every hostile client in time. "
        "The main process is where what outlives a connection lives: a forking model's children end with theirs. "
        f"{passed} of {len(runs)} passed." + "".join(f" {run['layer']}/{run['model']}: {', '.join(failures(run))}."
                                                     for run in runs if not run["passed"]),
        "",
        f"<sub>Each: {first['clients']} keep-alive client threads (6 plaintext : 3 page : 1 guestbook, a new "
        "connection after each round of the ten), "
        f"{first['hostile']['pipelining']} pipelining and {first['hostile']['slow']} slow-reading clients at any "
        f"time, each replaced once the server closed it; --send-timeout {first['send_timeout_s']:g}; sampled every "
        f"{first['interval_s']:g} s. Measured on {data.measured_on(doc['environment'])}, commit "
        f"{doc['environment']['git_commit'][:7]}, {doc['environment'].get('lanes', 1)} variants at a time. "
        "Data: `docs/results/soak/soaks.json`.</sub>",
    ]
    return "\n".join(lines)
