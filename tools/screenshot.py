"""Render the real viewer window on an X server and save a PNG of it (docs/screenshot.png).

    python tools/screenshot.py --model ../shared/models/yolox_nano.onnx \
        --source ../shared/media/people.mp4 --out docs/screenshot.png

With no DISPLAY it starts its own Xvfb (apt-get install xvfb). The window runs through
the xcb platform plugin like any desktop session, plays until --frames frames have been
shown, then the X server's copy of the window is grabbed: what a user would see.
Settings go to a temporary ini file, never the user's own.

--decorations also starts a window manager (openbox) on that Xvfb and grabs the window
with its title bar; --grab view grabs the video view alone. A folder of images pauses on
each image: --start 2 --frames 1 shows its third.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_wm() -> subprocess.Popen[bytes]:
    """openbox on our Xvfb, once it has taken the screen."""
    if shutil.which("openbox") is None:
        sys.exit("screenshot: --decorations needs openbox (apt-get install openbox)")
    proc = subprocess.Popen(["openbox", "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        check = subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], capture_output=True, text=True)
        if "window id" in check.stdout:
            break
        time.sleep(0.1)
    return proc


def start_xvfb(size: tuple[int, int]) -> subprocess.Popen[bytes] | None:
    if os.environ.get("DISPLAY"):
        return None
    if shutil.which("Xvfb") is None:
        sys.exit("screenshot: no DISPLAY and no Xvfb (apt-get install xvfb)")
    display = ":97"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    for _ in range(100):
        if socket.exists():
            break
        if proc.poll() is not None:
            sys.exit("screenshot: Xvfb did not start")
        time.sleep(0.05)
    os.environ["DISPLAY"] = display
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT.parent / "shared/models/yolox_nano.onnx"))
    parser.add_argument("--source", default=str(ROOT.parent / "shared/media/people.mp4"))
    parser.add_argument("--out", default=str(ROOT / "docs/screenshot.png"))
    parser.add_argument("--size", default="1440x900", help="window size, WxH")
    parser.add_argument("--start", type=int, default=240, help="frame to seek to before playing")
    parser.add_argument("--frames", type=int, default=60, help="frames to show before the grab")
    parser.add_argument("--grab", choices=("window", "view"), default="window",
                        help="the whole window, or the video view alone")
    parser.add_argument("--settle", type=int, default=0, metavar="MS",
                        help="wait this long before the seek and before the grab (the statistics are "
                        "reported at most twice a second: 600 lets them catch up with a paused frame)")
    parser.add_argument("--decorations", action="store_true",
                        help="with our own Xvfb: a window manager (openbox), and the title bar in the grab")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    xvfb = start_xvfb((width + 64, height + 64))
    wm = start_wm() if args.decorations and xvfb is not None else None
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        return shoot(args, width, height)
    finally:
        for proc in (wm, xvfb):
            if proc is not None:
                proc.terminate()
                proc.wait(5)


def shoot(args: argparse.Namespace, width: int, height: int) -> int:
    from PySide6.QtCore import QPoint, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from trt_viewer.gui import theme
    from trt_viewer.gui.settings import Settings
    from trt_viewer.gui.window import MainWindow

    app = QApplication([sys.argv[0]])
    theme.apply(app)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        settings.set_output_dir(Path(tmp) / "out")
        window = MainWindow(settings)
        window.resize(width, height)
        window.move(0, 0)
        window.show()
        window.set_model(args.model)
        window.set_source(args.source)
        window.start(paused=True)
        shown = {"n": 0, "sought": False}
        failed: list[str] = []

        def seek_and_play() -> None:
            window.seek(args.start)
            window.play()

        def on_frame(_: int) -> None:
            if not shown["sought"]:
                shown["sought"] = True
                QTimer.singleShot(args.settle, seek_and_play)
                return
            shown["n"] += 1
            if shown["n"] == args.frames:
                QTimer.singleShot(args.settle, grab)  # while playing: rates and counts on screen

        def grab() -> None:
            app.processEvents()
            screen = window.screen()
            if args.grab == "view":
                view = window.shell.view
                corner = view.mapTo(window, QPoint(0, 0))
                pixmap = screen.grabWindow(window.winId(), corner.x(), corner.y(), view.width(), view.height())
            elif args.decorations:  # the frame the window manager drew, title bar and all
                frame = window.frameGeometry()
                pixmap = screen.grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
            else:
                pixmap = screen.grabWindow(window.winId())
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not pixmap.save(str(out)):
                failed.append(f"cannot write {out}")
            else:
                shown["saved"] = True
                print(f"screenshot: {out} ({pixmap.width()}x{pixmap.height()})")
            window.close()

        def on_error(message: str) -> None:
            failed.append(message)
            window.close()

        window.frameShown.connect(on_frame)
        window.errorShown.connect(on_error)
        QTimer.singleShot(120_000, window.close)  # never hang a CI job
        app.exec()
    if not failed and not shown.get("saved"):  # the window closed first: the source ended, or the time ran out
        failed.append(f"no screenshot: fewer than {args.frames} frames were shown after frame {args.start}")
    if failed:
        print(f"screenshot: {failed[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
