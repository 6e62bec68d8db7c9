"""The tutorial's last rung: the routes of SPEC §2 written the way a framework wants them, twice.

`frameworks.flask_app:app` is Flask (WSGI), served by gunicorn (one gthread worker);
`frameworks.fastapi_app:app` is FastAPI (ASGI), served by uvicorn (bench.reference_servers.frameworks()).
Routing, request parsing (forms, JSON, queries), static files, 404/405, HEAD and content types come from
the framework, not from webapp: that is the point of the rung. Shared with the layers is only content and
storage: the page's HTML (webapp.page), the SQLite store (webapp.store.MessageStore, in the folder that
adapters.make_app picks). Shared between the two apps is only what the contract says in words: the
rules of a message and of `limit`, the lines saying what to change, the error body, the Server word.

EXCEPTIONS lists, per framework, the SPEC lines it does not meet without fighting the framework (or the
server it is deployed on), each with the reason and the route tests (tests/test_live_routes.py) that show
it: the tests mark exactly those as expected failures. This module imports neither framework: the tests
and the benchmark read it in the project's own environment; the frameworks live in .venv-reference.
"""

from http import HTTPStatus
from pathlib import Path

import webapp.page
from adapters import make_app
from webapp.store import MessageStore

STATIC_DIR = (Path(webapp.page.__file__).parent / "static").resolve()  # the shipped folder: style.css, test.jpg
MAX_TEXT, MAX_LIMIT, DEFAULT_LIMIT = 1000, 500, 50
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
TEXT_RULE = f"text must be 1 to {MAX_TEXT} characters"
LIMIT_RULE = f"limit must be one whole number from 1 to {MAX_LIMIT}"
MEDIA_RULE = f'send the message as {FORM} (a field named text) or as {JSON} ({{"text": "..."}})'
JSON_RULE = 'the JSON must be an object with a string "text", e.g. {"text": "Hello"}'
FORM_RULE = "the form needs a field named text"
UNICODE_RULE = "text must be valid Unicode (no lone surrogates)"
MAX_ID = 2**63 - 1  # SQLite's largest rowid: a longer ID names no message (404), never an OverflowError


def server_word(name: str) -> str:
    """The Server field of SPEC §3 for framework `name` (set through its host server's configuration)."""
    return f"server-layers ({name})"


def open_store() -> MessageStore:
    """The guestbook's store where the adapters keep theirs: $SERVER_LAYERS_DATA_DIR, else a new temporary
    folder (adapters.make_app's choice, reused; the App around the store is never asked anything)."""
    return make_app().store


def error_text(status: int, detail: str | None = None) -> str:
    """SPEC §3's error body: `CODE REASON`, then the line saying what to change when the app decided it."""
    return f"{status} {HTTPStatus(status).phrase}\n" + (f"{detail}\n" if detail else "")


class Refused(Exception):
    """A request the app turns down (SPEC §2-3): `status`, and `detail`, one line saying what to change."""

    def __init__(self, detail: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, int(status)


def checked(text: str) -> str:
    """A message's text, stripped: 1 to 1000 characters of encodable Unicode, else Refused."""
    text = text.strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(UNICODE_RULE) from None
    if not 1 <= len(text) <= MAX_TEXT:
        raise Refused(TEXT_RULE)
    return text


def one_line(problem: str) -> str:
    """What a framework's validator said, as the one line of SPEC §3 (never a line break inside)."""
    return " ".join(problem.split())


# SPEC line -> why the framework does not meet it, and the route tests (test_live_routes.py, without the
# server's id) that show it. Every other line of SPEC §2-3, the framework meets. §1 (the layers' command line)
# and §4-5 (connections, bad input) are the host server's (gunicorn's, uvicorn's): the conformance probe's.
TRACE_404 = ("the framework's router answers a path it does not know with 404 whatever the method; "
             "TRACE is refused (405) only on paths it has, like any method a route does not list")
STAR = ("the router matches paths that start with /; the asterisk-form target reaches no route and is "
        "a 404: the framework has no notion of the server as a whole")
NO_CGI = ("left out of the rung, as issue 25 draws it (the guestbook's routes): the CGI gateway is webapp's, "
          "one per layer would be a second implementation, not a framework's feature; /cgi-bin/NAME is a 404")
EXCEPTIONS = {
    "flask": {
        "§2 /cgi-bin/NAME: runs a CGI script, §7": {"reason": NO_CGI, "tests": []},
        "§3 A method that is not one of GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH: 501": {
            "reason": "gunicorn passes any well-formed method to the app, and Werkzeug's router answers a method "
                      "a route does not list with 405, known or not: only a hook before routing could say 501",
            "tests": ["test_errors[/--BREW--501]"],
        },
        "§3 CONNECT (authority-form target): 501, this is no proxy": {
            "reason": "gunicorn hands the authority-form target to the app as a path; Werkzeug's router finds no "
                      "route for it",
            "tests": ["test_connect_is_not_a_proxy"],
        },
        "§3 TRACE: 405 everywhere": {"reason": TRACE_404, "tests": ["test_errors[/nowhere--TRACE--405]"]},
        "§3 OPTIONS on a known path: 200, empty body, Allow listing that path's methods (sorted, as the layers)": {
            "reason": "Flask answers OPTIONS itself with the path's methods, in the order of the set Werkzeug's "
                      "router keeps them in (e.g. HEAD, GET, OPTIONS; it may change from run to run); only a "
                      "subclass replacing make_default_options_response would sort them",
            "tests": ["test_options"],
        },
        "§3 OPTIONS *: 200, empty body, Allow listing every method the server serves somewhere": {
            "reason": STAR,
            "tests": ["test_options"],
        },
        "§2 /echo: headers as received (names as sent, in order)": {
            "reason": "WSGI hands the app an environ: field names upper-cased into HTTP_ keys, their order lost, "
                      "repeated fields joined by gunicorn into one; Werkzeug's request.headers rebuilds Title-Case",
            "tests": ["test_echo_reports_the_parsed_request"],
        },
        "§2 GET /static/PATH: any path that resolves outside the folder (symlinks out) is 404": {
            "reason": "send_from_directory (Werkzeug's safe_join) refuses `..` and absolute paths but follows a "
                      "symlink inside the folder wherever it leads: the static folder is trusted (the shipped one "
                      "holds no symlink, so no route test meets one)",
            "tests": [],
        },
        "§2 Malformed form data is 400": {
            "reason": "Werkzeug's form parser is lenient by design: empty fields (`a&&b`) are skipped, and an escape "
                      "that is no UTF-8 (`%ff`) or no escape (`%zz`) stays in the text as written: never an error "
                      "the app can see",
            "tests": [],
        },
    },
    "fastapi": {
        "§2 /cgi-bin/NAME: runs a CGI script, §7": {"reason": NO_CGI, "tests": []},
        "§3 A method that is not one of GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH: 501": {
            "reason": "uvicorn's parser (httptools, llhttp) knows a fixed list of methods and answers any other "
                      "with its own 400 (body `Invalid HTTP request received.`) before the app runs",
            "tests": ["test_errors[/--BREW--501]"],
        },
        "§3 CONNECT (authority-form target): 501, this is no proxy": {
            "reason": "uvicorn's parser refuses the authority-form target with its own 400 (body `Invalid HTTP "
                      "request received.`) before the app runs",
            "tests": ["test_connect_is_not_a_proxy"],
        },
        "§3 TRACE: 405 everywhere": {"reason": TRACE_404, "tests": ["test_errors[/nowhere--TRACE--405]"]},
        "§3 Known path, method not allowed: 405 with Allow (that path's methods)": {
            "reason": "Starlette's router answers 405 with the methods of the first route whose path matches: on "
                      "/messages, a GET and a POST operation, Allow says GET, HEAD and leaves POST out",
            "tests": [],
        },
        "§3 OPTIONS on a known path: 200, empty body, Allow listing that path's methods": {
            "reason": "FastAPI answers OPTIONS only where a path operation declares it (CORSMiddleware answers "
                      "preflights only); elsewhere its router says 405",
            "tests": ["test_options"],
        },
        "§3 OPTIONS *: 200, empty body, Allow listing every method the server serves somewhere": {
            "reason": STAR,
            "tests": ["test_options"],
        },
        "§2 /echo: headers as received (names as sent, in order)": {
            "reason": "ASGI gives the app header names lower-cased (uvicorn lower-cases them as the ASGI "
                      "specification asks)",
            "tests": ["test_echo_reports_the_parsed_request"],
        },
        "§2 GET /messages: ?limit=N (1..500); a bad limit is 400": {
            "reason": "the declared `limit: int` is read by pydantic's lax rules: `+5`, ` 5`, `5_0` and `5.0` are "
                      "5, and a repeated limit is its last value (the layers take one run of digits, once); "
                      "refusing them means declaring a string and parsing it by hand",
            "tests": [],
        },
        "§2 Malformed form data is 400": {
            "reason": "Starlette's form parser (python-multipart) is lenient: empty fields (`a&&b`) are skipped, "
                      "an escaped byte that is no UTF-8 (`%ff`) becomes U+FFFD and no escape (`%zz`) stays as "
                      "written: never an error the app can see",
            "tests": [],
        },
    },
}


def expected_failures(framework: str) -> dict[str, str]:
    """Route test id (without the server's id) -> the SPEC lines it shows `framework` does not meet, and why."""
    found: dict[str, list[str]] = {}
    for line, entry in EXCEPTIONS.get(framework, {}).items():
        for test in entry["tests"]:
            found.setdefault(test, []).append(f"{line}: {entry['reason']}")
    return {test: "; ".join(reasons) for test, reasons in found.items()}
