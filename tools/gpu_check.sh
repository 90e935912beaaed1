#!/usr/bin/env bash
# The TensorRT backend's GPU tests (pytest -m gpu) on a machine with an NVIDIA GPU and CUDA,
# with real pycuda built from its sdist. Offline: pycuda's sdist and the wheels it needs are
# read from .whl/, and the real test model and image from .gpudata/ (see docs/tensorrt.md, "What the TensorRT path is verified by").
# .whl/ also gets PyNvVideoCodec's wheel (NVDEC, about 27 MB) for benchmarks/gpu_video_run.sh.
#   prepare (online):  tools/gpu_check.sh --prepare
#   run (on the GPU):  tools/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
    pip=(python3 -m pip download -q --no-deps -d .whl)
    "${pip[@]}" --no-binary pycuda pycuda==2026.1
    "${pip[@]}" --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        pytools platformdirs mako siphash24 pynvvideocodec==2.2.4
    data="${TRT_VIEWER_TEST_DATA:-../shared}"
    mkdir -p .gpudata/models .gpudata/media
    cp "$data/models/yolox_nano.onnx" .gpudata/models/ && cp "$data/media/dog.jpg" .gpudata/media/
    # The real-video runs (benchmarks/gpu_video_run.sh): people.mp4 and its 1080p H.264 copy.
    cp "$data/media/people.mp4" .gpudata/media/
    py=python3; [ -x .venv/bin/python ] && py=.venv/bin/python  # PyAV encodes it
    [ -f .gpudata/media/people_1080p.mp4 ] || "$py" tools/make_1080p.py .gpudata/media/people.mp4 .gpudata/media/people_1080p.mp4
    exit 0
fi

export CUDA_ROOT="${CUDA_ROOT:-/usr/local/cuda}"
export PATH="$CUDA_ROOT/bin:$PATH" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import pycuda' 2>/dev/null || {
    start=$(date +%s)
    # --no-build-isolation: setuptools, wheel and numpy are taken from this Python.
    python3 -m pip install -q --no-index --no-build-isolation --find-links .whl pycuda
    echo "pycuda built and installed in $(( $(date +%s) - start )) s"
}
python3 -c 'import pycuda, numpy, onnxruntime; print("pycuda", pycuda.VERSION_TEXT, "numpy", numpy.__version__, "onnxruntime", onnxruntime.__version__)'
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TRT_VIEWER_TEST_DATA="${TRT_VIEWER_TEST_DATA:-$PWD/.gpudata}"
python3 -m pytest -p no:cacheprovider -q -m gpu -rA -s tests/test_gpu_tensorrt.py
