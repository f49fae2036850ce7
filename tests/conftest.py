"""Shared test set-up. Fixtures live in tests/fixtures/, one module per concern, loaded as plugins here."""

pytest_plugins = [
    "tests.fixtures.audit",
    "tests.fixtures.batch_server",
    "tests.fixtures.core",
    "tests.fixtures.local_models",
    "tests.fixtures.organisms",
    "tests.fixtures.reasoning",
    "tests.fixtures.runs",
    "tests.fixtures.scenarios",
    "tests.fixtures.servers",
]
