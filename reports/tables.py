"""The table of every figure and the list of failed runs, as plain-text cells.

The same rows feed report.html (escaped there) and summary.md (escaped for
Markdown here). No HTML in this module, no figure that results.json does not hold.
"""

from . import data

LOAD_HEADERS = ["layer/model", "scenario", "load", "runs ok", "bound by"]
FAILED_HEADERS = ["layer", "model", "scenario", "load", "repeat", "error", "server stderr (last line)"]
SPEC_ORDER = {"raw_socket": 0, "socketserver_impl": 1, "http_server_impl": 2}


def figure_headers(entries: list[dict] | None = None) -> list[str]:
    shown = data.figures(entries) if entries else data.FIGURES
    return LOAD_HEADERS + [f"{title} ({unit})" for _, title, unit, _ in shown]


def load_text(entry: dict) -> str:
    users = f"{entry['users']} user" + ("" if entry["users"] == 1 else "s")
    return f"{entry['rate']} req/s ({users})" if entry.get("rate") else users


def sort_key(entry: dict, scenarios: list[str]) -> tuple:
    scenario = scenarios.index(entry["scenario"]) if entry["scenario"] in scenarios else len(scenarios)
    return (scenario, SPEC_ORDER.get(entry["layer"], 9), entry["layer"], entry["model"], entry["users"],
            entry.get("rate") or 0)


def figure_rows(entries: list[dict]) -> list[list[str]]:
    """One row per layer/model/scenario/level: each figure as "median (min–max)"."""
    scenarios = data.scenarios(entries)
    rows = []
    for entry in sorted(entries, key=lambda e: sort_key(e, scenarios)):
        bound = ", ".join(entry.get("bound_by") or []) or "—"
        head = [f"{entry['layer']}/{entry['model']}", entry["scenario"], load_text(entry),
                f"{entry.get('ok', 0)}/{entry.get('repeats', 0)}", bound]
        rows.append(head + [data.spread(entry, key, kind) for key, _, _, kind in data.figures(entries)])
    return rows


def failed_rows(runs: list[dict]) -> list[list[str]]:
    """One row per run that did not complete, with its error and the last line of its server's stderr."""
    rows = []
    for run in runs:
        tail = (run.get("stderr_tail") or run.get("locust_stderr") or "").strip().splitlines()
        rows.append([str(run.get("layer", "?")), str(run.get("model", "?")), str(run.get("scenario", "?")),
                     load_text(run) if "users" in run else "?", str(run.get("repeat", "?")),
                     str(run.get("error") or run.get("status") or "unknown"), tail[-1] if tail else "—"])
    return rows


def md_cell(text: str) -> str:
    """A Markdown table cell: pipes and backslashes escaped, one line, no HTML."""
    text = " ".join(str(text).split())
    for char in ("\\", "|", "<", ">", "*", "`"):  # `_` inside words is no emphasis in CommonMark
        text = text.replace(char, "\\" + char)
    return text or " "


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
