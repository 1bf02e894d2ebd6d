"""The package's shape: modules import only modules below them (the import graph has an
order, no cycle), and functions stay short enough to read at once."""
from __future__ import annotations

import ast
from pathlib import Path

import seq2seq

PACKAGE = Path(seq2seq.__file__).parent
# by dotted name below the package: "train", "tasks" (its __init__), "tasks.translation"
MODULES = {".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__"):
           ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """The package's modules a module imports (at any depth: lazy imports count too)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "seq2seq":
                base = node.module.removeprefix("seq2seq").lstrip(".")
                out |= {_module(f"{base}.{a.name}".lstrip(".")) for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {_module(a.name.removeprefix("seq2seq.")) for a in node.names
                    if a.name.startswith("seq2seq.")}
    return out & MODULES.keys()


def _module(dotted: str) -> str:
    """The longest prefix of `dotted` that is a module ("tasks.base.Task" -> "tasks.base")."""
    while dotted and dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


def test_the_modules_import_each_other_in_one_order():
    graph = {name: _imports(tree) - {name} for name, tree in MODULES.items()}
    graph["__init__"] = set()  # the package's re-exports (and seq2seq.load) sit above all
    order, placed = [], set()
    while len(order) < len(graph):
        ready = sorted(n for n in graph if n not in placed and graph[n] <= placed)
        assert ready, f"an import cycle among {sorted(set(graph) - placed)}"
        order += ready
        placed |= set(ready)
    # the parts sit below what runs them
    translator = "tasks.translation.translator"
    for low, high in (("sources", "encoders"), ("encoders", "model"), ("decoder", "model"),
                      ("model", "tasks.translation.task"), ("search", translator),
                      ("tasks.base", "train"), (translator, "tasks.translation.task"),
                      ("tasks.translation.task", "tasks.captioning.task")):
        assert order.index(low) < order.index(high), (low, high)
    for part in ("sources", "recurrent", "encoders", "decoder", "model", "search"):
        assert not graph[part] & {"train", "tasks", "tasks.base", translator, "data",
                                  "tokens"}, part
    # the registry knows tasks by name only: it imports none of them
    tasks = {m for m in MODULES if m.startswith("tasks.") and m != "tasks.base"}
    assert not graph["tasks"] & tasks
    # and no shared module imports a task's: tasks sit above the machinery they plug into
    for module in MODULES.keys() - tasks - OLD_PATHS - {"__init__", "config_reference"}:
        assert not graph[module] & tasks, (module, graph[module] & tasks)


# `python -m seq2seq.translate`, `from seq2seq.translator import Translator` and the like,
# kept for one release: each only re-exports what its task's package holds now.
OLD_PATHS = {"translate", "classify", "caption", "sample", "caption_metrics", "translator",
             "classification", "captioner"}


def test_the_old_paths_only_re_export_their_task_s_command_or_class():
    for name in OLD_PATHS:
        body = MODULES[name].body
        imports = [n for n in body if isinstance(n, ast.ImportFrom)]
        assert len(imports) == 1 and imports[0].module.startswith("seq2seq.tasks."), name
        assert len(body) <= 3, name  # the docstring, the import, [running main]


def test_functions_are_under_60_lines():
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"seq2seq/{name}.py: {node.name} is {length} lines"
