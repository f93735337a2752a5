#!/usr/bin/env bash
# Install the project (into .venv unless a virtualenv is active) and run the main job on the embedded default.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_setup_env.sh" "cpu"
paddlevideo summary -c configs/slowfast.yaml
