"""Is the GUI event loop free while the viewer processes at full speed?

A 5 ms QTimer (Qt.PreciseTimer) probes the event loop of the real main window while it
plays a video as fast as the model runs; each tick's lateness beyond 5 ms is how long
the loop was kept from running. The goal: p99 lateness under 50 ms.

    python benchmarks/gui_responsiveness.py --model ../shared/models/yolox_nano.onnx \
        --source ../shared/media/people.mp4 --seconds 20

Without --model/--source it uses TRT_VIEWER_TEST_DATA's yolox_nano.onnx and people.mp4
when set, else a small generated model and video. Runs offscreen unless --onscreen.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBE_MS = 5
GOAL_MS = 50.0
ROOT = Path(__file__).resolve().parent.parent


def default_inputs(tmp: Path) -> tuple[str, str, str]:
    data = os.environ.get("TRT_VIEWER_TEST_DATA")
    if data and (Path(data) / "models/yolox_nano.onnx").is_file():
        return str(Path(data) / "models/yolox_nano.onnx"), str(Path(data) / "media/people.mp4"), "real"
    sys.path.insert(0, str(ROOT / "tests"))
    import cv2
    import modelgen

    model = modelgen.yolox_model(tmp / "bench.onnx", size=(416, 416), num_classes=80)
    writer = cv2.VideoWriter(str(tmp / "bench.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (768, 432))
    rng = np.random.default_rng(0)
    for i in range(300):
        frame = rng.integers(0, 80, (432, 768, 3), np.uint8)
        x = 32 * (i % 20)
        frame[160:224, x:x + 64] = (255, 255, 0)
        writer.write(frame)
    writer.release()
    return str(model), str(tmp / "bench.avi"), "generated"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--source")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--onscreen", action="store_true", help="use the real display (DISPLAY)")
    parser.add_argument("--decode", help="Playback > Video Decoding for the run (default: the window's own)")
    args = parser.parse_args()
    if not args.onscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from trt_viewer.gui.settings import Settings
    from trt_viewer.gui.window import MainWindow

    app = QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.model and args.source:
            model, source, kind = args.model, args.source, "given"
        else:
            model, source, kind = default_inputs(tmp)
        settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings)
        window.resize(1280, 760)
        window.show()
        window.actions_.loop.setChecked(True)
        window.actions_.realtime.setChecked(False)

        late_ms: list[float] = []
        shown = {"frames": 0}
        started = {"at": 0.0, "processed": 0}
        last = {"t": 0.0}

        probe = QTimer()
        probe.setTimerType(Qt.TimerType.PreciseTimer)
        probe.setInterval(PROBE_MS)

        def tick() -> None:
            now = time.perf_counter()
            if last["t"]:
                late_ms.append(max(0.0, (now - last["t"]) * 1e3 - PROBE_MS))
            last["t"] = now

        def frame(_: int) -> None:
            shown["frames"] += 1
            if shown["frames"] == 10:  # the model is loaded and warm: measure from here
                started["at"] = time.perf_counter()
                started["processed"] = window.worker.processed if window.worker else 0
                probe.start()
                QTimer.singleShot(int(args.seconds * 1000), finish)

        result: dict[str, float] = {}

        def finish() -> None:
            probe.stop()
            elapsed = time.perf_counter() - started["at"]
            processed = (window.worker.processed if window.worker else 0) - started["processed"]
            result.update(elapsed=elapsed, processed=processed, shown=shown["frames"] - 10)
            t0 = time.perf_counter()
            closed = window.close()  # stops the worker mid-run and joins it
            result.update(close_ms=(time.perf_counter() - t0) * 1e3, closed=float(closed))

        probe.timeout.connect(tick)
        window.frameShown.connect(frame)
        def on_error(message: str) -> None:
            print(f"error: {message}", file=sys.stderr)
            window.close()

        window.errorShown.connect(on_error)
        window.set_model(model)
        if args.decode:
            window.decoding.set_choice(args.decode)
        window.set_source(source, start=True)
        QTimer.singleShot(int((args.seconds + 120) * 1000), window.close)
        app.exec()

    if not result or not late_ms:
        print("no measurement: the run did not start", file=sys.stderr)
        return 1
    lateness = np.asarray(late_ms)
    p50, p95, p99 = np.percentile(lateness, [50, 95, 99])
    over = int((lateness > GOAL_MS).sum())
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, Qt platform {app.platformName()}")
    print(f"inputs ({kind}): {Path(model).name} on {Path(source).name}, {result['elapsed']:.1f} s measured")
    print(f"processed {result['processed']} frames: {result['processed'] / result['elapsed']:.1f} FPS; "
          f"displayed {result['shown']}: {result['shown'] / result['elapsed']:.1f} FPS")
    print(f"event-loop lateness over {len(lateness)} ticks of a {PROBE_MS} ms timer: "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, max {lateness.max():.2f} ms; "
          f"{over} ticks blocked > {GOAL_MS:.0f} ms")
    print(f"closing the window mid-run (stop + join the worker): {result['close_ms']:.0f} ms"
          f"{'' if result['closed'] else ' (NOT joined within the 1 s budget)'}")
    ok = p99 < GOAL_MS
    print(f"{'PASS' if ok else 'FAIL'}: p99 {p99:.2f} ms {'<' if ok else '>='} {GOAL_MS:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
