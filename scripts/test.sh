#!/usr/bin/env bash
# Install the project with its test extras (into .venv unless a virtualenv is active) and run the test suite.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_setup_env.sh" "cpu,test"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
python -m pytest tests -q --durations=15 "$@"
