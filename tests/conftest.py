"""Shared test set-up. Fixtures live in tests/fixtures/, one module per concern, loaded as plugins here."""

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.local_models",
    "tests.fixtures.scenarios",
    "tests.fixtures.servers",
]
