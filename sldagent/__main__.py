from sldagent.cli import main

raise SystemExit(main())
