from sqlgate.cli import main

raise SystemExit(main())
