"""The auto plugin's tests: their shared helpers live next to them in auto_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib puts no test directory on sys.path; the helpers module has a name
# no other test directory uses.
sys.path.insert(0, str(Path(__file__).resolve().parent))
