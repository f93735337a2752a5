# Sourced by quickstart.sh and test.sh: use the active virtualenv or create .venv, then install the project.
# Usage: . scripts/_setup_env.sh EXTRAS   (e.g. "cpu" or "cpu,test")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
EXTRAS="$1"
# A Paddle build that is already installed (e.g. Paddle's own GPU wheel) is kept: only add the CPU one when none is.
if python -c "import paddle" >/dev/null 2>&1; then
  EXTRAS="${EXTRAS//cpu,/}"
  EXTRAS="${EXTRAS//cpu/}"
fi
SPEC="."
[ -n "$EXTRAS" ] && SPEC=".[$EXTRAS]"
python -m pip install --quiet --disable-pip-version-check -e "$SPEC"
