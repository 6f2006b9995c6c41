# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs on hosts: standard library only, Python 3.6 syntax, the collection's file header.

The host-side code is also imported and run on a real Python 3.6 by tests/host_python
(``make host-python`` and test_host_python.py); these checks name the cause directly."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[4]
HOST_FILES = sorted((ROOT / "plugins" / "module_utils" / "_palisade").glob("*.py"))
OWN_PACKAGE = "ansible_collections.palisade.firewall.plugins.module_utils._palisade"
HEADER = "# Copyright: palisade.firewall contributors\n# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)\n"


def test_there_is_host_side_code():
    assert {path.name for path in HOST_FILES} >= {"__init__.py", "apply.py", "commands.py", "plan.py", "saved_state.py", "state.py"}


@pytest.mark.parametrize("path", HOST_FILES, ids=[path.name for path in HOST_FILES])
def test_standard_library_only_and_python_36_syntax(path):
    source = path.read_text()
    tree = ast.parse(source, feature_version=(3, 6))
    assert source.startswith(HEADER)
    assert "Private to the collection" in (ast.get_docstring(tree) or "")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert name.startswith(OWN_PACKAGE) or top in sys.stdlib_module_names, f"{path.name} imports {name}"


HOST_MODULE_FILES = HOST_FILES + sorted((ROOT / "plugins" / "modules").glob("*.py"))


@pytest.mark.parametrize("path", HOST_MODULE_FILES, ids=[path.parent.name + "/" + path.name for path in HOST_MODULE_FILES])
def test_no_newer_runtime_features(path):
    """Things ast's feature_version does not catch: 3.7+ modules, arguments and methods, and
    annotations that 3.6 cannot evaluate (there is no postponed evaluation before 3.7)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module != "__future__" or "annotations" not in [a.name for a in node.names], f"{path.name}: from __future__ import annotations"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
            assert "dataclasses" not in names and "contextvars" not in names, f"{path.name}: imports {names}"
        if isinstance(node, ast.Attribute):
            newer = ("removeprefix", "removesuffix", "bit_count", "cache", "isascii", "fromisoformat", "nullcontext")
            assert node.attr not in newer, f"{path.name}: .{node.attr}"
        if isinstance(node, ast.Call):
            keywords = {keyword.arg for keyword in node.keywords}
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("run", "Popen", "check_output"):
                assert not keywords & {"capture_output", "text"}, f"{path.name}: subprocess {sorted(keywords & {'capture_output', 'text'})}"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            assert node.value.id not in ("list", "dict", "tuple", "set", "frozenset", "type"), f"{path.name}: {node.value.id}[...]"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            assert not (isinstance(node.left, ast.Dict) or isinstance(node.right, ast.Dict)), f"{path.name}: dict | dict"
            if _in_annotation(tree, node):
                raise AssertionError(f"{path.name}: X | Y in an annotation (use typing.Optional/Union)")


def _in_annotation(tree, target) -> bool:
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations = [arg.annotation for arg in node.args.args + node.args.kwonlyargs] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in annotations:
            if annotation is not None and any(child is target for child in ast.walk(annotation)):
                return True
    return False
