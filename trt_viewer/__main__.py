import sys

try:
    from trt_viewer.cli import main
except KeyboardInterrupt:  # a Ctrl+C while the modules load ends as quietly as one later
    sys.stderr.write("trt-viewer: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(main())
