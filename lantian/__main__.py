import sys

from lantian.cli import main

sys.exit(main())
