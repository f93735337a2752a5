"""Fixtures of the plugin tests: the real PaddleVideo, our components registered in it, one run of its trainer."""
from __future__ import annotations

import pytest

import pv_helpers  # tests/plugin/pv_helpers.py


@pytest.fixture(scope="session")
def paddlevideo(paddlevideo_dir, tmp_path_factory):
    return pv_helpers.paddlevideo_module(paddlevideo_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def registration(paddlevideo):
    """Our components registered under the default suffix; what this registered is undone at the module's end."""
    from paddlevideo_slowfast.plugin import register

    result = register(paddlevideo)
    yield result
    result.restore()


@pytest.fixture(scope="session")
def pv_config(paddlevideo, tiny_dataset, repo_root, tmp_path_factory):
    return pv_helpers.pv_config(tiny_dataset, repo_root, tmp_path_factory)


@pytest.fixture(scope="session")
def pv_run(pv_config):
    """PaddleVideo's own trainer run once for the session (the export and checkpoint tests read its output)."""
    return pv_helpers.trained(pv_config)
