"""SlowFast models: importing this package registers the backbones, heads, recognizers, losses and detectors."""
from . import backbone, detection, head, losses, recognizer  # noqa: F401  (registration by decorator)
from .builder import build_backbone, build_head, build_model
from .flops import count_macs, count_parameters, profile
from .init import initialize
from .variants import create_model, variant_config, variant_names

__all__ = ["build_model", "build_backbone", "build_head", "create_model", "variant_config", "variant_names",
           "count_macs", "count_parameters", "profile", "initialize"]
