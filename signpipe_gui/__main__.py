from signpipe_gui.cli import main

raise SystemExit(main())
