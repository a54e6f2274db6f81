"""``python -m adaptive_llm_local.cli``: the same as the ``adaptive-llm-local`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
