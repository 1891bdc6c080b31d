"""`python -m registry`: see registry/cli.py."""

import sys
import warnings

from registry.cli import main

warnings.filterwarnings("ignore", category=FutureWarning)
sys.exit(main())
