"""Shared fixtures: the real catalog, and editable copies of its files for validation tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.catalog import Catalog, load_catalog
from bot.settings import PROJECT_ROOT

CATALOG_DIR = PROJECT_ROOT / "catalog"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    """A copy of the real catalog directory that a test may break."""
    target = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, target)
    return target
