"""Acceptance run of the viewer: a real X11 window, a window manager, real key presses.

    python tools/acceptance_viewer.py --model ../shared/models/yolox_nano.onnx \
        --source ../shared/media/people.mp4 --seconds 60

It starts its own Xvfb and openbox (apt-get install xvfb openbox xdotool), points QSettings
at a fresh folder (XDG_CONFIG_HOME) and runs `trt-viewer` three times:

1. first start, fresh settings: plays a few seconds, Ctrl+Q; this writes the layout;
2. the scripted run: L, F, Esc, Space, Right, S, Space, R, R, E, Ctrl+Q, typed with
   xdotool into the focused window over about --seconds seconds, playback in between;
3. the next start, with no arguments (a returning user): the last session, loaded.

Then it compares the layout saved after the scripted run (window/geometry and window/state
in the settings file) and the docks' geometries on the next start with the layout just
before F, checks what S, R and E wrote (the recording is probed with PyAV: H.264, frames,
duration) and prints PASS or FAIL with the compared values.

Each run is `trt_viewer.cli.main`, the `trt-viewer` command, in a child process that
also reports the window's layout and state to a JSON file five times a second (read-only:
it changes nothing); that is how the layout before F and the docks are known.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DISPLAY = ":95"
SCREEN = (1920, 1200)
SETTLE_S = 3.0  # after F or Esc: the window manager answers, the layout settles (SETTLE_MS 2 s)


# ==================================================================== the child: trt-viewer
def child(probe: Path, argv: list[str]) -> int:
    """`trt-viewer argv` with a probe that writes the window's layout and state to `probe`."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from trt_viewer.cli import main

    # As run_app makes it; run_app takes an existing QApplication as it is.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv[:1])

    def rect(r: Any) -> list[int]:
        return [r.x(), r.y(), r.width(), r.height()]

    def report() -> None:
        from trt_viewer.gui.window import MainWindow

        window = next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)
        if window is None:
            return
        shell, a = window.shell, window.actions_
        focus = app.focusWidget()
        packet = window.packet
        data = {
            "t": time.time(),
            "visible": window.isVisible(),
            "win_id": int(window.winId()),
            "title": window.windowTitle(),
            "fullscreen": window.isFullScreen(),
            "geometry": rect(window.geometry()),
            "frame_geometry": rect(window.frameGeometry()),
            "save_geometry": bytes(window.saveGeometry().data()).hex(),
            "save_state": bytes(window.saveState().data()).hex(),
            # A dock behind another's tab is "visible" to Qt but parked off screen, at a size
            # from its own size hint: on_screen says which docks the user sees.
            "docks": {d.objectName(): {"rect": rect(d.geometry()), "visible": d.isVisible(),
                                       "on_screen": d.isVisible() and not d.visibleRegion().isEmpty(),
                                       "floating": d.isFloating(), "area": int(window.dockWidgetArea(d).value),
                                       "tabs": sorted(t.objectName() for t in window.tabifiedDockWidgets(d))}
                      for d in shell.docks()},
            "chrome": {"menubar": window.menuBar().isVisible(), "toolbar": shell.toolbar.isVisible(),
                       "statusbar": window.statusBar().isVisible(), "transport": shell.transport.isVisible()},
            "state": window.state,
            "frame": packet.index if packet is not None else None,
            "model": window.model,
            "source": window.source,
            "loop": a.loop.isChecked(),
            "recording": a.record.isChecked(),
            "exporting": a.export.isChecked(),
            "badge_rec": shell.view.recording_text() if a.record.isChecked() else "",
            "position": shell.transport.position.text(),
            "hud": shell.view.hud_lines,
            "focus": f"{type(focus).__name__}:{focus.objectName()}" if focus is not None else "",
            "status": window.statusBar().currentMessage(),
        }
        part = probe.with_suffix(".part")
        part.write_text(json.dumps(data))
        os.replace(part, probe)

    timer = QTimer()
    timer.setInterval(200)
    timer.timeout.connect(report)
    timer.start()
    return main(argv)


# ==================================================================== the parent: the checks
class Failures(list[str]):
    def check(self, ok: bool, what: str) -> bool:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.append(what)
        return ok


def start_display() -> list[subprocess.Popen[bytes]]:
    for tool in ("Xvfb", "openbox", "xdotool"):
        if shutil.which(tool) is None:
            sys.exit(f"acceptance: {tool} is missing (apt-get install xvfb openbox xdotool)")
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{DISPLAY[1:]}")
    for _ in range(200):
        if socket.exists():
            break
        if xvfb.poll() is not None:
            sys.exit(f"acceptance: Xvfb did not start on {DISPLAY}")
        time.sleep(0.05)
    env = {**os.environ, "DISPLAY": DISPLAY}
    wm = subprocess.Popen(["openbox", "--sm-disable"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):  # the window manager is up once it has set its check window
        out = subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], env=env, capture_output=True, text=True)
        if "window id" in out.stdout:
            break
        time.sleep(0.1)
    else:
        sys.exit("acceptance: openbox did not start")
    return [wm, xvfb]


class Viewer:
    """One run of `trt-viewer` in a child process, its probe and xdotool."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.env = env
        self.probe_path = tmp / f"probe-{name}.json"
        self.log = tmp / f"log-{name}.txt"
        self.started = time.monotonic()
        print(f"\n[{name}] trt-viewer {' '.join(args)}")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child",
                                          str(self.probe_path), "--", *args],
                                         env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def probe(self, after: float | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """The newest report, written after `after` (time.time(); default: now)."""
        after = time.time() if after is None else after
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: trt-viewer exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-2000:])
            data: dict[str, Any] | None
            try:
                data = json.loads(self.probe_path.read_text())
            except (OSError, ValueError):
                data = None
            if data is not None and data["t"] > after:
                return data
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no report from the window within {timeout} s")

    def wait_for(self, what: str, test: Callable[[dict[str, Any]], bool], timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            data = self.probe()
            if test(data):
                return data
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {what} did not happen within {timeout} s (last: "
                                   f"state {data['state']}, frame {data['frame']})")
            time.sleep(0.1)

    def key(self, keys: str, note: str) -> dict[str, Any]:
        """Focus the window through the window manager and type `keys` (XTEST, as a user)."""
        win = str(self.probe()["win_id"])
        subprocess.run(["xdotool", "windowactivate", "--sync", win], env=self.env, check=True, timeout=10,
                       capture_output=True)
        before = self.probe()
        subprocess.run(["xdotool", "key", "--clearmodifiers", keys], env=self.env, check=True, timeout=10)
        print(f"  {self.elapsed():5.1f} s  key {keys:<7} {note}  (focus {before['focus'] or 'none'},"
              f" state {before['state']}, frame {before['frame']})")
        return before

    def quit(self, failures: Failures) -> int:
        self.key("ctrl+q", "quit")
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        failures.check(rc == 0, f"{self.name}: trt-viewer exited with {rc} after Ctrl+Q ({self.elapsed():.1f} s)")
        return rc


def read_layout(conf: Path) -> dict[str, str | None]:
    """The layout entries of the settings file, as hex (None: absent)."""
    from PySide6.QtCore import QByteArray, QSettings

    store = QSettings(str(conf), QSettings.Format.IniFormat)
    out: dict[str, str | None] = {}
    for key in ("window/geometry", "window/state", "window/normal_geometry", "window/normal_state"):
        value = store.value(key)
        out[key] = bytes(value.data()).hex() if isinstance(value, QByteArray) else None
    return out


def short(hex_value: str | None) -> str:
    if hex_value is None:
        return "absent"
    return f"{len(hex_value) // 2} bytes sha1 {hashlib.sha1(bytes.fromhex(hex_value)).hexdigest()[:12]}"


def docks_text(docks: dict[str, Any]) -> str:
    return "; ".join(f"{name} {d['rect']}{'' if d['on_screen'] else ' (behind a tab)'}" for name, d in docks.items())


def dock_layout(dock: dict[str, Any]) -> dict[str, Any]:
    """What the user sees of a dock: where it is on screen; for one behind a tab, which tabs it
    shares and where (its off-screen rectangle comes from its size hint, not the layout)."""
    seen = {"on_screen": dock["on_screen"], "visible": dock["visible"], "floating": dock["floating"],
            "area": dock["area"], "tabs": dock["tabs"]}
    return {**seen, "rect": dock["rect"]} if dock["on_screen"] else seen


def layout_of(data: dict[str, Any]) -> dict[str, Any]:
    """What must come back: geometry, docks, the bars."""
    return {"geometry": data["geometry"], "docks": {n: dock_layout(d) for n, d in data["docks"].items()},
            "chrome": data["chrome"]}


def newest(folder: Path, suffix: str) -> Path | None:
    found = sorted(folder.glob(f"*{suffix}"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def wait_file(folder: Path, suffix: str, timeout: float = 10.0) -> Path | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = newest(folder, suffix)
        if path is not None and path.stat().st_size > 0 and ".part" not in path.name:
            return path
        time.sleep(0.1)
    return None


def scripted_run(viewer: Viewer, out: Path, seconds: float, failures: Failures) -> dict[str, Any]:
    """The key presses, spread over `seconds`; returns the report from just before F."""
    v, check = viewer, failures.check
    t0 = time.monotonic()

    def until(at: float) -> None:  # playback in between: the keys at fixed times from the first one
        time.sleep(max(0.0, t0 + at * seconds / 60.0 - time.monotonic()))

    v.key("l", "Loop on, so a 60 s run never reaches the end of the clip")
    check(v.wait_for("loop", lambda d: d["loop"], 5)["loop"], "L: Loop is on")
    until(4)
    before_f = v.probe()
    print(f"        layout before F: geometry {before_f['geometry']}; {docks_text(before_f['docks'])}")
    v.key("f", "fullscreen")
    time.sleep(SETTLE_S)
    d = v.probe()
    check(d["fullscreen"] and not any(x["visible"] for x in d["docks"].values()) and not any(d["chrome"].values()),
          f"F: fullscreen {d['fullscreen']}, geometry {d['geometry']}, docks and bars hidden, state {d['state']}")
    until(12)
    v.key("Escape", "leave fullscreen")
    time.sleep(SETTLE_S)
    d = v.probe()
    check(not d["fullscreen"] and layout_of(d) == layout_of(before_f),
          f"Esc: fullscreen {d['fullscreen']}, geometry {d['geometry']}, docks as before F: "
          f"{layout_of(d)['docks'] == layout_of(before_f)['docks']}, bars back: {all(d['chrome'].values())}")
    check(d["save_state"] == before_f["save_state"],
          f"Esc: saveState() {short(d['save_state'])} == before F {short(before_f['save_state'])}")
    until(18)
    v.key("space", "pause")
    paused = v.wait_for("pause", lambda x: x["state"] == "paused", 5)
    time.sleep(0.5)
    paused = v.probe()
    check(paused["state"] == "paused", f"Space: {paused['state']} at frame {paused['frame']}")
    until(21)
    v.key("Right", "step one frame")
    stepped = v.wait_for("step", lambda x: x["frame"] != paused["frame"], 5)
    check(stepped["state"] == "paused" and stepped["frame"] == paused["frame"] + 1,
          f"Right: frame {paused['frame']} -> {stepped['frame']}, {stepped['state']}")
    until(24)
    v.key("s", "snapshot of the frame on screen")
    snapshot = wait_file(out, ".png")
    check(snapshot is not None, f"S: snapshot {snapshot}")
    until(26)
    v.key("space", "play again")
    check(v.wait_for("play", lambda x: x["state"] == "playing", 5)["state"] == "playing", "Space: playing")
    until(30)
    v.key("r", "record")
    recording_since = time.monotonic()
    rec = v.wait_for("recording", lambda x: x["recording"], 5)
    check(rec["recording"], f"R: recording, status bar '{rec['status']}'")
    until(42)
    rec = v.probe()
    shown = rec["badge_rec"].removeprefix("REC ").split(":")
    since = time.monotonic() - recording_since
    check(len(shown) == 2 and abs(int(shown[0]) * 60 + int(shown[1]) - since) < 2,
          f"REC badge shows the elapsed time: '{rec['badge_rec']}' after {since:.1f} s")
    v.key("r", "stop recording")
    stopped = v.wait_for("recording stopped", lambda x: not x["recording"], 10)
    check(not stopped["recording"], f"R: stopped, status bar '{stopped['status']}'")
    until(45)
    v.key("e", "export detections")
    exp = v.wait_for("export", lambda x: x["exporting"], 5)
    check(exp["exporting"], f"E: exporting, status bar '{exp['status']}'")
    until(60)
    last = v.probe()
    print(f"        before Ctrl+Q: state {last['state']}, frame {last['frame']}, position '{last['position']}',"
          f" HUD {last['hud']}")
    v.quit(failures)
    return before_f


def check_outputs(out: Path, failures: Failures) -> None:
    import av
    import cv2

    check = failures.check
    files = sorted(p for p in out.iterdir())
    print(f"\n[outputs] {out}: {', '.join(f'{p.name} ({p.stat().st_size} bytes)' for p in files) or 'nothing'}")
    check(not any(".part" in p.name for p in files), "no .part file left behind")
    png, mp4, jsonl = newest(out, ".png"), newest(out, ".mp4"), newest(out, ".jsonl")
    if check(png is not None and png.stat().st_size > 0, f"snapshot {png.name if png else None} is non-empty"):
        image = cv2.imread(str(png))
        check(image is not None, f"snapshot reads back: {None if image is None else image.shape}")
    if check(mp4 is not None and mp4.stat().st_size > 0, f"recording {mp4.name if mp4 else None} is non-empty"):
        with av.open(str(mp4)) as container:
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            frames = sum(1 for _ in container.decode(stream))
            duration = float(container.duration / 1e6) if container.duration else 0.0
            size = (stream.codec_context.width, stream.codec_context.height)
        check(codec == "h264" and frames > 0,
              f"recording plays: codec {codec}, {size[0]}x{size[1]}, {frames} frames decoded, {duration:.1f} s")
    if check(jsonl is not None and jsonl.stat().st_size > 0, f"export {jsonl.name if jsonl else None} is non-empty") \
            and jsonl is not None:
        lines = jsonl.read_text().splitlines()
        records = [json.loads(line) for line in lines]
        boxes = sum(len(r.get("detections", [])) for r in records)
        check(len(records) > 0, f"export: {len(records)} frames, {boxes} detections, every line JSON")


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(Path(sys.argv[2]), sys.argv[4:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT.parent / "shared/models/yolox_nano.onnx"))
    parser.add_argument("--source", default=str(ROOT.parent / "shared/media/people.mp4"))
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the scripted run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (settings, outputs, logs)")
    args = parser.parse_args()
    model, source = str(Path(args.model).resolve()), str(Path(args.source).resolve())

    tmp = Path(tempfile.mkdtemp(prefix="trt-viewer-acceptance-"))
    config, out = tmp / "config", tmp / "out"
    conf = config / "trt-viewer" / "trt-viewer.conf"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(DISPLAY=DISPLAY, XDG_CONFIG_HOME=str(config), QT_QPA_PLATFORM="xcb")
    failures = Failures()
    processes = start_display()
    print(f"X server {DISPLAY} {SCREEN[0]}x{SCREEN[1]} (Xvfb) with openbox; settings in {conf}; outputs in {out}")
    try:
        check = failures.check
        check(not conf.exists(), "the settings file does not exist yet")

        # 1. First start: fresh settings. It writes the layout when it closes.
        first = Viewer("first-start", ["--model", model, "--source", source], env, tmp)
        d = first.wait_for("playing", lambda x: x["state"] == "playing" and (x["frame"] or 0) > 0)
        print(f"  window {d['geometry']} playing at {first.elapsed():.1f} s; title '{d['title']}'")
        time.sleep(5)
        first.quit(failures)
        saved_first = read_layout(conf)
        check(saved_first["window/geometry"] is not None and saved_first["window/state"] is not None,
              f"layout written: window/geometry {short(saved_first['window/geometry'])}, "
              f"window/state {short(saved_first['window/state'])}")
        # Outputs into the temporary folder (what File ▸ Output Folder… sets; no layout entry).
        from PySide6.QtCore import QSettings

        store = QSettings(str(conf), QSettings.Format.IniFormat)
        store.setValue("output/dir", str(out))
        store.sync()
        del store

        # 2. The scripted run.
        scripted = Viewer("scripted", ["--model", model, "--source", source], env, tmp)
        d = scripted.wait_for("playing", lambda x: x["state"] == "playing" and (x["frame"] or 0) > 0)
        print(f"  playing at {scripted.elapsed():.1f} s; focus {d['focus']}")
        before_f = scripted_run(scripted, out, args.seconds, failures)
        saved = read_layout(conf)

        # 3. The next start: no arguments, as a returning user starts it.
        nxt = Viewer("next-start", [], env, tmp)
        nxt.wait_for("the window", lambda x: x["visible"])
        time.sleep(SETTLE_S)
        again = nxt.probe()
        print(f"  window {again['geometry']}; {docks_text(again['docks'])}")
        check(again["state"] == "stopped" and again["model"] == model and again["source"] == source,
              f"returning user: the last session loaded, not started (state {again['state']}, "
              f"model {Path(again['model'] or '-').name}, source {Path(again['source'] or '-').name}, "
              f"status '{again['status']}')")
        nxt.quit(failures)
        saved_next = read_layout(conf)

        print("\n[layout] before F (scripted run) against what was saved and what came back")
        for key, now in (("window/geometry", saved["window/geometry"]), ("window/state", saved["window/state"])):
            mine = before_f["save_geometry" if key == "window/geometry" else "save_state"]
            check(now == mine, f"settings {key} after the scripted run: {short(now)} == before F: {short(mine)}")
            check(now == saved_first[key], f"settings {key}: {short(now)} == after the first start: "
                  f"{short(saved_first[key])}")
            check(saved_next[key] == now, f"settings {key} after the next start: {short(saved_next[key])}"
                  f" == {short(now)}")
        check(saved["window/normal_geometry"] is None and saved["window/normal_state"] is None,
              "no layout from before fullscreen left in the settings (window/normal_*: "
              f"{short(saved['window/normal_geometry'])}, {short(saved['window/normal_state'])})")
        check(again["geometry"] == before_f["geometry"],
              f"window geometry on the next start {again['geometry']} == before F {before_f['geometry']}")
        for name, dock in before_f["docks"].items():
            now = again["docks"][name]
            if dock["on_screen"]:
                what = f"{now['rect']} == before F {dock['rect']}"
            else:
                what = (f"behind a tab of {', '.join(now['tabs'])} (area {now['area']}) as before F "
                        f"(parked off screen at {now['rect']}, before F {dock['rect']}: not compared)")
            check(dock_layout(now) == dock_layout(dock), f"dock {name} on the next start: {what}")
        check(again["save_state"] == before_f["save_state"],
              f"saveState() on the next start {short(again['save_state'])} == before F {short(before_f['save_state'])}")

        check_outputs(out, failures)
    except RuntimeError as exc:
        failures.append(str(exc))
        print(f"  FAIL {exc}")
    finally:
        for proc in processes:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"\nkept {tmp}")
    print()
    if failures:
        print(f"FAIL: {len(failures)} check(s) failed:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print("PASS: the layout saved after F / Esc / Space / Right / S / R / R / E / Ctrl+Q is the one from "
          "before F, the docks come back the same on the next start, and S, R, E wrote playable files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
