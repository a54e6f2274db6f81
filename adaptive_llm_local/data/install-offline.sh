#!/bin/sh
# Install adaptive-llm-local from this folder, with no network and no package index.
#
#   sh install.sh [VENV]     VENV defaults to ./venv next to this script
#   PYTHON=/path/to/python3.X sh install.sh    to choose the interpreter
#
# It checks the model's sha256, creates the virtual environment, installs every wheel
# from ./wheels (pip --no-index), and runs `adaptive-llm-local doctor`.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
venv=${1:-$here/venv}
python=${PYTHON:-python3}

want=$(cat "$here/PYTHON_VERSION")
have=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || {
  echo "error: $python does not run; set PYTHON=/path/to/python$want" >&2
  exit 1
}
if [ "$have" != "$want" ]; then
  echo "error: this bundle holds wheels for Python $want but $python is $have;" \
    "run: PYTHON=/path/to/python$want sh $0 ${1:-}" >&2
  exit 1
fi

echo "Checking the model's sha256 …"
(cd "$here/models" && sha256sum -c SHA256SUMS)

# only this bundle's wheels: no pip configuration may add an index or another wheel folder
PIP_CONFIG_FILE=/dev/null
export PIP_CONFIG_FILE
unset PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS || true

echo "Creating $venv and installing from $here/wheels (no network) …"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels" \
  adaptive-llm-local

# the environment finds the model and keeps its index here
printf '\nexport ADAPTIVE_LLM_HOME="%s"\n' "$here" >>"$venv/bin/activate"

echo "Checking the installation (adaptive-llm-local doctor) …"
ADAPTIVE_LLM_HOME="$here" "$venv/bin/adaptive-llm-local" doctor

echo
echo "Installed. Use it with:"
echo "  source $venv/bin/activate        # sets ADAPTIVE_LLM_HOME=$here"
echo "  adaptive-llm-local diagnose path/to/job.log"
