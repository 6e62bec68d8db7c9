"""Live servers as fixtures: every layer x model, each a real process on a loopback port.

Test bodies never name a layer: they take `server` (parametrised over all 10
variants) or start their own through `start_server(variant, ...)`. Helpers live in helpers.py.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import CONCURRENT_VARIANTS, VARIANT_IDS, VARIANTS, launch, stop

@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """A factory: start_server(variant, *extra_args, data_dir=None) as a context manager."""

    @contextmanager
    def start(variant: tuple[str, str], *extra: str, data_dir: Path | None = None):
        layer, model = variant
        folder = tmp_path_factory.mktemp(f"{layer}-{model}")
        server = launch(layer, model, data_dir or folder / "data", folder / "stderr.log", list(extra))
        try:
            yield server
        finally:
            stop(server)

    return start


@pytest.fixture(scope="module", params=VARIANTS, ids=VARIANT_IDS)
def variant(request) -> tuple[str, str]:
    return request.param


@pytest.fixture(scope="module")
def server(variant, start_server):
    """One server per variant and test module, default options."""
    with start_server(variant) as running:
        yield running


@pytest.fixture(scope="module", params=CONCURRENT_VARIANTS, ids=[f"{l}-{m}" for l, m in CONCURRENT_VARIANTS])
def concurrent_server(request, start_server):
    """The variants that serve clients concurrently (all but iterative)."""
    with start_server(request.param) as running:
        yield running


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
