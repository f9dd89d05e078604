# TEMPORARY local fixture (to be removed: the real one lives in tests/conftest.py)
import pytest


@pytest.fixture(scope="session")
def backend_url() -> str:
    return "http://127.0.0.1:8093"
