"""Regression: PySide6 6.12.0 on Python 3.11 aborted after ~570 Signal.emit() calls
(a bool's reference count went to zero in bool_dealloc). The viewer emits thousands of
signals a minute, several with bool arguments, so 5,000 of each must go through.

Run in a child process: an abort there is a failed test, not a dead test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, os, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QCoreApplication, QElapsedTimer
from trt_viewer.run.session import RunSpec, SourceInfo
from trt_viewer.gui.worker import Worker

N = 5000
app = QCoreApplication([])
worker = Worker(RunSpec("model.onnx", "video.mp4"))  # never started: only its signals
counts = {"frame": 0, "state": 0, "output": 0, "output_true": 0, "stats": 0, "error": 0,
          "source": 0, "direct": 0}

def output(kind, on, path):
    counts["output"] += 1
    counts["output_true"] += on is True

worker.frameReady.connect(lambda: counts.__setitem__("frame", counts["frame"] + 1))
worker.stateChanged.connect(lambda s: counts.__setitem__("state", counts["state"] + 1))
worker.outputChanged.connect(output)
worker.statsReady.connect(lambda s: counts.__setitem__("stats", counts["stats"] + 1))
worker.error.connect(lambda m: counts.__setitem__("error", counts["error"] + 1))
worker.sourceReady.connect(lambda i: counts.__setitem__("source", counts["source"] + 1))

info = SourceInfo("video.mp4", False, 10, 25.0, True)

def emit():
    # From another thread, as the worker does: queued to the main thread.
    for i in range(N):
        worker.frameReady.emit()
        worker.stateChanged.emit("playing" if i % 2 else "paused")
        worker.outputChanged.emit("record", i % 2 == 0, "/tmp/x.mp4")
        worker.statsReady.emit({"fps": 1.0, "playing": True, "dropped": i})
        worker.error.emit("message")
        worker.sourceReady.emit(info)

thread = threading.Thread(target=emit)
thread.start()
timer = QElapsedTimer()
timer.start()
keys = ("frame", "state", "output", "stats", "error", "source")
while any(counts[k] < N for k in keys) and timer.elapsed() < 60000:
    app.processEvents()
thread.join()

# Same thread: direct connections, bool arguments straight through.
worker.outputChanged.disconnect()
worker.outputChanged.connect(lambda k, on, p: counts.__setitem__("direct", counts["direct"] + (on is False)))
for i in range(N):
    worker.outputChanged.emit("export", False, "")
print(json.dumps(counts))
"""


def test_five_thousand_signals_of_each_kind_arrive():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, f"child died ({out.returncode}): {out.stderr[-2000:]}"
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts == {
        "frame": 5000, "state": 5000, "output": 5000, "output_true": 2500, "stats": 5000,
        "error": 5000, "source": 5000, "direct": 5000,
    }
