"""`trt-viewer bench`: the model alone, the classic sequential loop and the trt_viewer
pipeline, measured in interleaved rounds in one process so that a noisy machine hits all
three alike.

- frames:  decoded frames kept in memory (read costs nothing; optional resize to 1080p...)
- display: the viewer's QImage conversion, where PySide6 imports (no window needed)
- loops:   the three ways of running, each giving per-frame stage times
- report:  percentiles, ratios and the derived figures, as a dict (JSON) or text
- run:     options in, report out
"""
