#!/usr/bin/env bash
# The Triton test server's own virtual environment, made once and kept in .venv-triton/
# (git-ignored): nvidia-pytriton 0.7.0 (it bundles tritonserver 2.51.0 and its Python
# backend), numpy<2 and onnxruntime, on the system Python /usr/bin/python3.
#
# It cannot share the project's venv: PyTriton needs numpy<2 and its Python backend stub
# needs the Python build it was linked against (another build fails with "'_thread.RLock'
# object has no attribute '_recursion_count'").
#
#   bash tools/triton_env.sh            # make it where missing (or out of date); print its python
#   bash tools/triton_env.sh --force    # make it anew
#   TRT_VIEWER_TRITON_ENV=DIR           # another place for it
#
# tests/triton_server.py starts servers with this environment's python; the Triton tests
# skip where it is missing. .ci/run calls this script before the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_DIR="${TRT_VIEWER_TRITON_ENV:-$PWD/.venv-triton}"
PYTHON="${TRT_VIEWER_TRITON_PYTHON:-/usr/bin/python3}"
# What the environment holds; a stamp that differs makes it anew.
REQUIREMENTS=("nvidia-pytriton==0.7.0" "numpy<2" "onnxruntime>=1.16,<1.24")
STAMP="$(printf '%s\n' "$PYTHON" "${REQUIREMENTS[@]}")"

if [[ "${1:-}" == "--force" ]]; then
    rm -rf "$ENV_DIR"
fi
if [[ -x "$ENV_DIR/bin/python" && -f "$ENV_DIR/.trt-viewer-stamp" && "$(cat "$ENV_DIR/.trt-viewer-stamp")" == "$STAMP" ]] \
    && "$ENV_DIR/bin/python" -c "import pytriton, numpy, onnxruntime" 2>/dev/null; then
    echo "$ENV_DIR/bin/python"
    exit 0
fi
if [[ ! -x "$PYTHON" ]]; then
    echo "triton_env.sh: $PYTHON is missing: the bundled Triton server's Python backend needs it" >&2
    exit 1
fi
rm -rf "$ENV_DIR"
started=$SECONDS
"$PYTHON" -m venv "$ENV_DIR"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$ENV_DIR/bin/pip" install -q "${REQUIREMENTS[@]}"
"$ENV_DIR/bin/python" -c "import pytriton, numpy, onnxruntime"
printf '%s' "$STAMP" > "$ENV_DIR/.trt-viewer-stamp"
echo "triton_env.sh: made $ENV_DIR in $((SECONDS - started)) s" >&2
echo "$ENV_DIR/bin/python"
