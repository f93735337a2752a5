"""paddlevideo-slowfast: SlowFast video recognition for PaddlePaddle 3.x, PaddleVideo-compatible."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def version() -> str:
    for line in (HERE / "paddlevideo_slowfast" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip('"')
    raise RuntimeError("no __version__")


# configs/ and pipelines/ are YAML-only folders at the top of the repository; the wheel carries them as
# paddlevideo_slowfast/configs and paddlevideo_slowfast/pipelines so that relative _BASE_ paths still resolve.
DATA_DIRS = {"configs": "paddlevideo_slowfast.configs", "pipelines": "paddlevideo_slowfast.pipelines"}
data_packages, package_dir, package_data = [], {}, {}
for folder, package in DATA_DIRS.items():
    for sub in sorted(p for p in (HERE / folder).rglob("*") if p.is_dir()) + [HERE / folder]:
        rel = sub.relative_to(HERE / folder)
        name = package + ("." + ".".join(rel.parts) if rel.parts else "")
        data_packages.append(name)
        package_dir[name] = str(Path(folder, *rel.parts))
        package_data[name] = ["*.yaml", "*.yml", "*.txt"]
# the C++ operators' sources: compiled against the installed Paddle on first use (paddlevideo_slowfast/ops/build.py)
package_data["paddlevideo_slowfast.ops"] = ["csrc/*.cc", "csrc/*.h"]

TEST_REQUIRES = [
    "pytest>=7",
    "setuptools>=64", "wheel",          # the packaging test builds a wheel without build isolation
    # what the real PaddleVideo (../shared/third_party, integration tests) needs to import
    "scipy", "pandas", "scikit-image",
    "paddle2onnx", "onnxruntime", "safetensors",
    "httpx",                            # the HTTP client of the serve tests and scripts/load_test.py
]

setup(
    name="paddlevideo-slowfast",
    version=version(),
    description="SlowFast video recognition for PaddlePaddle 3.x: train, test, export, deploy; "
                "PaddleVideo-compatible configs and checkpoints",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["paddlevideo_slowfast", "paddlevideo_slowfast.*"]) + data_packages,
    package_dir=package_dir,
    package_data=package_data,
    include_package_data=False,
    install_requires=[
        "numpy",
        "pyyaml",
        # same cv2 module as opencv-python without libGL; it clashes with an installed opencv-python
        "opencv-python-headless",
        "av",
        "decord; platform_system == 'Linux' and platform_machine == 'x86_64'",
        "visualdl",
        "tqdm",
        "matplotlib",
        # `paddlevideo serve`: the ASGI framework, its server, and multipart form parsing for uploads
        "fastapi", "uvicorn", "python-multipart",
    ],
    extras_require={
        # Paddle's CPU and GPU builds are different distributions: pick one, or install `.` alone
        # when some Paddle build is already installed.
        "cpu": ["paddlepaddle>=3.0"],
        "gpu": ["paddlepaddle-gpu>=3.0"],
        "onnx": ["paddle2onnx", "onnxruntime"],
        "test": TEST_REQUIRES,
    },
    entry_points={"console_scripts": ["paddlevideo = paddlevideo_slowfast.cli:main"]},
    classifiers=["License :: OSI Approved :: Apache Software License", "Programming Language :: Python :: 3"],
)
