"""The plugin for the real PaddleVideo: our SlowFast components in its registries, trainer, tester and exporter.

    from paddlevideo_slowfast.plugin import register, route_config
    registration = register()                     # ResNetSlowFast_PVSF, SlowFastHead_PVSF, Recognizer3D_PVSF ...
    route_config(cfg, registration.names)         # a config's plain names -> the registered ones

`python -m paddlevideo_slowfast.pv train|test|export` does both, then runs PaddleVideo's own task functions;
docs/paddlevideo.md has the workflow and what PaddleVideo behaviour it works around.
"""
from .adapters import (PaddleVideoCenterCropMetric, PaddleVideoMultiCropMetric, PaddleVideoRecognizer3D,
                       PaddleVideoSFVideoDataset)
from .importer import PaddleVideoNotFound, import_paddlevideo, registries
from .names import our_name, route_config
from .registration import DEFAULT_SUFFIX, Registration, register

__all__ = ["register", "Registration", "DEFAULT_SUFFIX", "route_config", "our_name", "import_paddlevideo",
           "registries", "PaddleVideoNotFound", "PaddleVideoRecognizer3D", "PaddleVideoSFVideoDataset",
           "PaddleVideoCenterCropMetric", "PaddleVideoMultiCropMetric"]
