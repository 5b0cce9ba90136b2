from rfmkit.cli import main

raise SystemExit(main())
