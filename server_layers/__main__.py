"""`python -m server_layers ...` is `server-layers ...`."""

import sys

from .main import main

sys.exit(main())
