# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes the helpers beside this file (golden_cases.py, golden_inventories.py) importable by the
tests in the stage folders below it, as tests/unit/plugins/conftest.py does for module_args.py;
and each stage folder's test modules by the tests of another (a test may reuse another's
fixtures: test_compiled_store.py imports test_lockout.py's)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
for folder in [HERE, *sorted(path for path in HERE.iterdir() if path.is_dir() and path.name != "__pycache__")]:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
