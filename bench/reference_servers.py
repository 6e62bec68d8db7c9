"""The reference servers: the project's one app on uvicorn, gunicorn, granian and stock http.server, and the floor.

The same app on every row (through the thin adapters of adapters/), so a comparison measures the
server, not two different answers. Beside them, frameworks(): the tutorial's last rung, the guestbook
written for Flask (on gunicorn) and for FastAPI (on uvicorn), frameworks/. uvicorn, gunicorn and the
frameworks live in a separate environment, .venv-reference, installed on first use: never a requirement
of the servers or of `make test`. granian (Rust, WSGI and ASGI) is the native anchor above uvicorn's C parser;
floor() is the pure-Python floor below every layer (bench.floor_server: a selectors loop that answers
without parsing).
Used by bench.reference (wrk, CPU per request) and by the conformance probe (reference columns).
Starts processes and installs packages; never imports uvicorn, gunicorn, a framework or locust itself.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from adapters import DATA_DIR_ENV

from .knobs import STOCK_MODULE
from .process import ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-reference"
REQUIREMENTS = ["uvicorn[standard]", "gunicorn", "granian",  # uvicorn with uvloop + httptools, as it is deployed
                "flask", "fastapi", "python-multipart"]  # the frameworks' rung (frameworks/); FastAPI forms: multipart
PACKAGES = ("uvicorn", "uvloop", "httptools", "gunicorn", "granian",  # import names (importlib.metadata takes them)
            "flask", "werkzeug", "fastapi", "starlette", "pydantic", "python_multipart")
FLOOR_MODULE = "bench.floor_server"
READY_TIMEOUT_S = 30.0  # uvicorn's start-up in its own venv is the slowest
GUNICORN_THREADS = 8  # one worker process (one core, as our servers), gthread: keep-alive and 8 requests at once


@dataclass(frozen=True)
class Target:
    name: str
    command: tuple[str, ...]  # {port} and {data} are filled in at start
    prints_line: bool = True  # our `listening on` line; else readiness by polling {port}
    cwd: Path = ROOT  # where the command runs (a --baseline checkout for its targets)
    production: bool = False  # needs the reference environment
    beside: str = ""  # a framework app's: the reference row of the same server with the project's app (adapters/)
    gives: str = ""  # a framework app's: what the framework gives that the layers write by hand
    built_on: str = ""  # a framework app's: the framework and the server it runs on, for the layer table


def uvicorn(venv: Path, app: str, *options: str) -> tuple[str, ...]:
    """uvicorn serving ASGI `app` as the reference row does: uvloop, httptools, one process, no access log."""
    return (str(venv / "bin" / "uvicorn"), app, "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
            "--no-access-log", "--loop", "uvloop", "--http", "httptools", *options)


def gunicorn(venv: Path, app: str, *options: str) -> tuple[str, ...]:
    """gunicorn serving WSGI `app` as the reference row does: one gthread worker of GUNICORN_THREADS threads."""
    return (str(venv / "bin" / "gunicorn"), app, "--bind", "127.0.0.1:{port}", "--workers", "1", "--worker-class",
            "gthread", "--threads", str(GUNICORN_THREADS), "--log-level", "warning", *options)


def granian(venv: Path, interface: str, app: str) -> tuple[str, ...]:
    """granian serving `app` over `interface` (wsgi or asgi) as its rows do: one worker, HTTP/1.1, no websockets;
    WSGI's app runs on GUNICORN_THREADS blocking threads, as gunicorn's row (ASGI's on uvloop, as uvicorn's)."""
    threads = ("--blocking-threads", str(GUNICORN_THREADS)) if interface == "wsgi" else ()
    return (str(venv / "bin" / "granian"), "--interface", interface, "--host", "127.0.0.1", "--port", "{port}",
            "--workers", "1", "--http", "1", "--no-ws", "--log-level", "warning", *threads, app)


def production(venv: Path = VENV) -> list[Target]:
    """uvicorn (uvloop + httptools, the ASGI adapter), gunicorn (gthread, the WSGI adapter), and granian on both."""
    return [
        Target("uvicorn", uvicorn(venv, "adapters.asgi:app"), prints_line=False, production=True),
        Target("gunicorn", gunicorn(venv, "adapters.wsgi:app"), prints_line=False, production=True),
        Target("granian-wsgi", granian(venv, "wsgi", "adapters.wsgi:app"), prints_line=False, production=True),
        Target("granian-asgi", granian(venv, "asgi", "adapters.asgi:app"), prints_line=False, production=True),
    ]


def frameworks(venv: Path = VENV) -> list[Target]:
    """The guestbook written for a framework (frameworks/), each on the server of its reference row: Flask on
    gunicorn, FastAPI on uvicorn. Each answers `Server: server-layers (NAME)` (SPEC §3), set where its server
    takes it: uvicorn's --header, gunicorn's config file (frameworks/gunicorn_conf.py)."""
    return [
        Target("flask", gunicorn(venv, "frameworks.flask_app:app", "--config", "python:frameworks.gunicorn_conf"),
               prints_line=False, production=True, beside="gunicorn",
               built_on="Flask (WSGI) on gunicorn, one gthread worker",
               gives="routing by decorator, a request object (form, JSON, query), static files with Last-Modified "
                     "and 304, 404 and 405 with Allow, HEAD and OPTIONS"),
        Target("fastapi", uvicorn(venv, "frameworks.fastapi_app:app", "--header", "server:server-layers (fastapi)"),
               prints_line=False, production=True, beside="uvicorn",
               built_on="FastAPI (ASGI) on uvicorn, uvloop and httptools",
               gives="routing by decorator, typed path and query parameters validated (422 by default), form and "
                     "JSON bodies, static files, 404 and 405, OpenAPI docs at /docs"),
    ]


def floor() -> Target:
    """The pure-Python floor (bench.floor_server): the least a Python loop pays per request, with no parsing and
    no app; only for bench.reference's /plaintext rows, never a conformance column (it is no HTTP server)."""
    return Target("floor", (sys.executable, "-m", FLOOR_MODULE, "--port", "0"))


def stock(name: str = "stock http.server", nodelay: bool = True) -> Target:
    """Stock ThreadingHTTPServer with the app (bench.stock_server), TCP_NODELAY on or the stock off."""
    return Target(name, (sys.executable, "-m", STOCK_MODULE, "--port", "0", "--data-dir", "{data}",
                         "--nodelay" if nodelay else "--no-nodelay"))


def versions(venv: Path = VENV) -> dict | None:
    """The reference packages' versions in `venv`; None if any is missing."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    code = (f"import importlib.metadata as m, json; {', '.join(PACKAGES)} = map(__import__, {PACKAGES!r});"
            f"print(json.dumps({{n: m.version(n) for n in {PACKAGES!r}}}))")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return json.loads(result.stdout) if result.returncode == 0 else None


def ensure_venv(venv: Path = VENV, log=print) -> dict:
    """Create `venv` with the reference packages unless it already has them; their versions."""
    found = versions(venv)
    if found:
        return found
    log(f"installing {' '.join(REQUIREMENTS)} into {venv.relative_to(ROOT) if venv.is_relative_to(ROOT) else venv} ...")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    found = versions(venv)
    if not found:
        raise RuntimeError(f"{venv}: {', '.join(PACKAGES)} still not all importable after pip install")
    return found


def start(target: Target, folder: Path, cpus: set[int] | None = None) -> ServerProcess:
    """A target's process, pinned, its app's data in `folder`; ready once it printed its address (or, if it
    prints none, accepted on the port it was given)."""
    port = free_port() if not target.prints_line else None
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    command = [part.format(port=port, data=data) for part in target.command]
    server = ServerProcess(command, folder / "server.stderr", name=target.name, cpus=cpus, cwd=target.cwd,
                           env={DATA_DIR_ENV: str(data)})
    return server.wait_ready(READY_TIMEOUT_S, port)
