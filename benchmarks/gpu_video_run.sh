#!/usr/bin/env bash
# Real video on the GPU machine in one command: pycuda (built from .whl/ as gpu_run.sh
# does) and PyNvVideoCodec (its wheel in .whl/), then benchmarks/probe_nvdec.py and
# benchmarks/bench_video.py on .gpudata/media/people_1080p.mp4 (tools/make_1080p.py) with
# the decoders compared, at a 1.0 ms and a 3.0 ms stand-in engine. OUTDIR gets the logs.
#   on the GPU machine:  bash benchmarks/gpu_video_run.sh OUTDIR [VARIANTS] [VARIANTS_3MS]
#   env: PROBE=0 skips the probe; GPU_TESTS=1 runs tests/test_gpu_*.py; SPIN=VARIANTS runs
#   those again at 1 ms with OpenCV's pool spinning (its defaults); MEMORY=cpu,nvdec 20,000 frames
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
# cv_N / decode_N on cpu+no_draw: the parent's OpenCV pool (the staging copy) and the
# child's FFmpeg threads, the two suspects for the child decoding slower beside the
# pipeline than alone (docs/performance.md).
variants="${2:-thread,cpu,nvdec,cpu+no_draw,nvdec+no_draw,cpu+no_draw+cv_2,cpu+no_draw+decode_8}"
variants3="${3-cpu,nvdec,cpu+no_draw,nvdec+no_draw}"
mkdir -p "$out"
export CUDA_ROOT="${CUDA_ROOT:-/usr/local/cuda}"
export PATH="$CUDA_ROOT/bin:$PATH" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import pycuda' 2>/dev/null || {
    python3 -m pip install -q --no-index --no-build-isolation --find-links .whl pycuda || exit 1
}
python3 -c 'import PyNvVideoCodec' 2>/dev/null || python3 -m pip install -q --no-index --no-deps --find-links .whl pynvvideocodec
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TRT_VIEWER_TEST_DATA="${TRT_VIEWER_TEST_DATA:-$PWD/.gpudata}"
video=.gpudata/media/people_1080p.mp4
status=0
if [ -n "${PROBE:-1}" ] && [ "${PROBE:-1}" != 0 ]; then
    timeout 120 python3 benchmarks/probe_nvdec.py "$video" 2>&1 | tee "$out/probe_nvdec.log" || status=1
fi
if [ -n "${GPU_TESTS:-}" ]; then
    python3 -m pytest -p no:cacheprovider -q -m gpu -rA tests/test_gpu_*.py 2>&1 | tee "$out/gpu_tests.log" || status=1
fi
python3 benchmarks/bench_video.py --model .gpudata/models/yolox_nano.onnx --source "$video" --out "$out" \
    --variants "$variants" 2>&1 | tee "$out/video_bench.log" || status=1
[ -f "$out/video_bench.json" ] && mv "$out/video_bench.json" "$out/video_bench_1ms.json"
if [ -n "$variants3" ]; then
    python3 benchmarks/bench_video.py --model .gpudata/models/yolox_nano.onnx --source "$video" --out "$out" \
        --engine-ms 3 --variants "$variants3" 2>&1 | tee "$out/video_bench_3ms.log" || status=1
    [ -f "$out/video_bench.json" ] && mv "$out/video_bench.json" "$out/video_bench_3ms.json"
fi
if [ -n "${SPIN:-}" ]; then  # the same with OpenCV's workers spinning after each call (its defaults)
    OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER=2000 OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN=10000 \
    python3 benchmarks/bench_video.py --model .gpudata/models/yolox_nano.onnx --source "$video" --out "$out" \
        --variants "$SPIN" 2>&1 | tee "$out/video_bench_spin.log" || status=1
    [ -f "$out/video_bench.json" ] && mv "$out/video_bench.json" "$out/video_bench_spin.json"
fi
if [ -n "${MEMORY:-}" ]; then  # 20,000 frames through the viewer's loop, decoded as they play
    python3 benchmarks/bench_memory_gpu.py --model .gpudata/models/yolox_nano.onnx --source "$video" \
        --frames "${MEMORY_FRAMES:-20000}" --decoders "${MEMORY:-cpu,nvdec}" 2>&1 | tee "$out/memory.log" || status=1
fi
exit $status
