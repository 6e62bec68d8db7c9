"""python -m asyncio_impl [options]: see SPEC §1 or --help."""

import sys

from .server import main

sys.exit(main())
