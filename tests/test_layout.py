"""The package's shape: modules import only modules below them (the import graph has an
order, no cycle), and functions stay short enough to read at once."""
from __future__ import annotations

import ast
from pathlib import Path

import seq2seq

PACKAGE = Path(seq2seq.__file__).parent
MODULES = {p.stem: ast.parse(p.read_text()) for p in sorted(PACKAGE.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """The package's modules a module imports (at any depth: lazy imports count too)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "seq2seq":
                out |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names
                    if a.name.startswith("seq2seq.")}
    return out & MODULES.keys()


def test_the_modules_import_each_other_in_one_order():
    graph = {name: _imports(tree) - {name} for name, tree in MODULES.items()}
    graph["__init__"] = set()  # the package's re-exports sit above everything
    order, placed = [], set()
    while len(order) < len(graph):
        ready = sorted(n for n in graph if n not in placed and graph[n] <= placed)
        assert ready, f"an import cycle among {sorted(set(graph) - placed)}"
        order += ready
        placed |= set(ready)
    # the parts sit below what runs them
    for low, high in (("sources", "encoders"), ("encoders", "model"), ("decoder", "model"),
                      ("model", "tasks"), ("search", "translator"), ("tasks", "train")):
        assert order.index(low) < order.index(high), (low, high)
    for part in ("sources", "recurrent", "encoders", "decoder", "model", "search"):
        assert not graph[part] & {"train", "tasks", "translator", "data", "tokens"}, part


def test_functions_are_under_60_lines():
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"seq2seq/{name}.py: {node.name} is {length} lines"
