from trt_viewer.cli import main

raise SystemExit(main())
