"""The plugin for the real PaddleVideo: our SlowFast components in its registries, trainer, tester and exporter.

    from paddlevideo_slowfast.plugin import our_config, register, route_config
    registration = register()                     # ResNetSlowFast_PVSF, SlowFastHead_PVSF, Recognizer3D_PVSF ...
    route_config(cfg, registration.names)         # a config's plain names -> the registered ones
    ours = our_config(cfg)                        # PaddleVideo's get_config result as ours, for our own functions

`python -m paddlevideo_slowfast.pv train|test|export` does the first two, then runs PaddleVideo's own task functions;
docs/paddlevideo.md has the workflow and what PaddleVideo behaviour it works around.
"""
from .adapters import (PaddleVideoCenterCropMetric, PaddleVideoMultiCropMetric, PaddleVideoRecognizer3D,
                       PaddleVideoSFVideoDataset)
from .configs import our_config
from .importer import PaddleVideoNotFound, import_paddlevideo, registries
from .names import our_name, route_config
from .registration import DEFAULT_SUFFIX, Registration, register

__all__ = ["register", "Registration", "DEFAULT_SUFFIX", "route_config", "our_name", "import_paddlevideo",
           "registries", "PaddleVideoNotFound", "our_config", "PaddleVideoRecognizer3D", "PaddleVideoSFVideoDataset",
           "PaddleVideoCenterCropMetric", "PaddleVideoMultiCropMetric"]
