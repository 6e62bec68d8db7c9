"""Live servers as fixtures: every layer x model, each a real process on a loopback port.

Test bodies never name a layer: they take `server` (parametrised over every variant of
bench.catalog) or start their own through `start_server(variant, ...)`. Helpers live in helpers.py.
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    CONCURRENT_VARIANTS,
    FRAMEWORK_IDS,
    FRAMEWORKS,
    NO_FRAMEWORKS,
    VARIANT_IDS,
    VARIANTS,
    framework_test_id,
    frameworks_ready,
    launch,
    launch_framework,
    stop,
)


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


@pytest.fixture(scope="module", params=CONCURRENT_VARIANTS,
                ids=[f"{layer}-{model}" for layer, model in CONCURRENT_VARIANTS])
def concurrent_server(request, start_server):
    """The variants that serve clients concurrently (all but iterative)."""
    with start_server(request.param) as running:
        yield running


@contextmanager
def serving(param, start_server, tmp_path_factory):
    """A layer's variant through start_server, or a framework's app (skipped without .venv-reference's frameworks)."""
    if param in FRAMEWORKS:
        if not frameworks_ready():
            pytest.skip(NO_FRAMEWORKS)
        server = launch_framework(param, tmp_path_factory.mktemp(param.name))
        try:
            yield server
        finally:
            stop(server)
    else:
        with start_server(param) as running:
            yield running


@pytest.fixture(scope="module", params=[*VARIANTS, *FRAMEWORKS], ids=[*VARIANT_IDS, *FRAMEWORK_IDS])
def app_server(request, start_server, tmp_path_factory):
    """Every layer x model, then the framework apps (frameworks/): the same route tests on the tutorial's last
    rung. With framework_differences, a framework's test is expected to fail where frameworks.EXCEPTIONS says."""
    with serving(request.param, start_server, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module", params=[*CONCURRENT_VARIANTS, *FRAMEWORKS],
                ids=[*(f"{layer}-{model}" for layer, model in CONCURRENT_VARIANTS), *FRAMEWORK_IDS])
def concurrent_app_server(request, start_server, tmp_path_factory):
    """The variants that serve clients concurrently, then the framework apps (both serve concurrently)."""
    with serving(request.param, start_server, tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module", params=FRAMEWORKS, ids=FRAMEWORK_IDS)
def framework_server(request, start_server, tmp_path_factory):
    """The framework apps only (frameworks/), for what the route tests cannot show of them."""
    with serving(request.param, start_server, tmp_path_factory) as running:
        yield running


@pytest.fixture
def framework_differences(request):
    """On a framework's server, a test that shows a SPEC line the framework lists as its own behaviour
    (frameworks.EXCEPTIONS) is a strict expected failure, with the reason: it must fail, and only those."""
    import frameworks  # the package's data only (it imports no framework)

    callspec = getattr(request.node, "callspec", None)
    for param in (callspec.params.values() if callspec else ()):
        if param in FRAMEWORKS:
            reason = frameworks.expected_failures(param.name).get(framework_test_id(request.node.name, param.name))
            if reason:
                request.node.add_marker(pytest.mark.xfail(reason=f"{param.name}: {reason}", strict=True))


os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
