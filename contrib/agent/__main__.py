from contrib.agent.cli import main

raise SystemExit(main())
