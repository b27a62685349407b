import sys
from pathlib import Path

# Tests import shared helpers from each other (e.g. the numeric gradient of test_cells).
sys.path.insert(0, str(Path(__file__).parent))

from browser import browser, page  # noqa: E402,F401  (fixtures: a headless Chromium page, see browser.py)
