"""Fixtures of the detection tests."""
from __future__ import annotations

from typing import Any

import pytest

from detection_fakes import tiny_model_cfg


@pytest.fixture
def tiny_detector():
    """A factory of tiny FastRCNNs: tiny_detector(**head_overrides), seeded init."""
    from paddlevideo_slowfast.modeling import build_model

    def make(**head_overrides: Any):
        return build_model(tiny_model_cfg(**head_overrides), seed=0)
    return make
