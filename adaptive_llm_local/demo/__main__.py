"""``python -m adaptive_llm_local.demo``."""

from __future__ import annotations

import sys

from .run import main

sys.exit(main())
