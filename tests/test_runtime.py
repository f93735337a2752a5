"""Process setup: configure_cpu_threads sets threads and MKL's path; quiet_paddle hides Paddle's noise."""
from __future__ import annotations

import pytest

from paddlevideo_slowfast import runtime
from paddlevideo_slowfast.runtime import configure_cpu_threads


def test_configure_cpu_threads(monkeypatch):
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE", raising=False)
    monkeypatch.setattr(runtime, "_configured_threads", runtime._configured_threads)
    monkeypatch.setattr(runtime, "_amd_with_avx2", lambda: True)
    try:
        assert configure_cpu_threads(1, mkl_avx2_on_amd=False) == 1
        assert "MKL_DEBUG_CPU_TYPE" not in runtime.os.environ
        assert configure_cpu_threads(mkl_avx2_on_amd=True) == runtime.usable_cores()
        assert runtime.os.environ["MKL_DEBUG_CPU_TYPE"] == runtime.MKL_AVX2
        monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "4")  # a user's own setting wins
        configure_cpu_threads(1)
        assert runtime.os.environ["MKL_DEBUG_CPU_TYPE"] == "4"
        with pytest.raises(ValueError):
            configure_cpu_threads(0)
    finally:
        configure_cpu_threads(1, mkl_avx2_on_amd=False)  # Paddle's default for the rest of the session
