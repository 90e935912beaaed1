#!/usr/bin/env bash
# The speed work's GPU run in one command (device time is scarce): pycuda built from its
# sdist as tools/gpu_check.sh does, the GPU tests (tests/test_gpu_*.py, marked gpu), then
# the GPU benchmarks (benchmarks/bench_gpu.py). Logs and gpu_bench.json go to OUTDIR.
# Needs .whl/ (tools/gpu_check.sh --prepare) and .gpudata/ holding models/yolox_nano.onnx,
# media/dog.jpg (--prepare copies both) and media/people.mp4 (cp ../shared/media/people.mp4
# .gpudata/media/); both folders are git-ignored and carried to the GPU machine.
#   on the GPU machine:  bash benchmarks/gpu_run.sh OUTDIR
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
mkdir -p "$out"
export CUDA_ROOT="${CUDA_ROOT:-/usr/local/cuda}"
export PATH="$CUDA_ROOT/bin:$PATH" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
nvcc --version | tail -n 2 | head -n 1
lscpu | grep -E '^(Model name|CPU\(s\))' | tr -s ' '
python3 -c 'import pycuda' 2>/dev/null || {
    start=$(date +%s)
    # --no-build-isolation: setuptools, wheel and numpy are taken from this Python.
    python3 -m pip install -q --no-index --no-build-isolation --find-links .whl pycuda || exit 1
    echo "pycuda built and installed in $(( $(date +%s) - start )) s"
}
python3 -c 'import sys, pycuda, numpy, cv2, onnxruntime; print("Python", sys.version.split()[0], "pycuda", pycuda.VERSION_TEXT, "numpy", numpy.__version__, "OpenCV", cv2.__version__, "onnxruntime", onnxruntime.__version__)'
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TRT_VIEWER_TEST_DATA="${TRT_VIEWER_TEST_DATA:-$PWD/.gpudata}"
status=0
python3 -c 'import PyNvVideoCodec' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --find-links .whl pynvvideocodec 2>/dev/null || true  # NVDEC, where its wheel is in .whl/
python3 -m pytest -p no:cacheprovider -q -m gpu -rA -s tests/test_gpu_tensorrt.py tests/test_gpu_speed.py tests/test_gpu_nvdec.py \
    2>&1 | tee "$out/gpu_tests.log" || status=1
video=(); [ -f .gpudata/media/people_1080p.mp4 ] && video=(--video .gpudata/media/people_1080p.mp4)
python3 benchmarks/bench_gpu.py --model .gpudata/models/yolox_nano.onnx --source .gpudata/media/people.mp4 "${video[@]}" \
    --out "$out" "${@:2}" 2>&1 | tee "$out/gpu_bench.log" || status=1
exit $status
