# Copyright: palisade.firewall contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs on hosts: standard library only, Python 3.8 syntax, the collection's file header."""

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
def test_standard_library_only_and_python_38_syntax(path):
    source = path.read_text()
    tree = ast.parse(source, feature_version=(3, 8))
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


@pytest.mark.parametrize("path", HOST_FILES, ids=[path.name for path in HOST_FILES])
def test_no_newer_runtime_features(path):
    """Things ast's feature_version does not catch: 3.9+ methods and builtin generics at runtime."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("removeprefix", "removesuffix", "bit_count", "cache"), f"{path.name}: .{node.attr}"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and not _in_annotation(tree, node):
            assert node.value.id not in ("list", "dict", "tuple", "set", "frozenset", "type"), f"{path.name}: {node.value.id}[...]"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and not _in_annotation(tree, node):
            assert not (isinstance(node.left, ast.Dict) or isinstance(node.right, ast.Dict)), f"{path.name}: dict | dict"


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
