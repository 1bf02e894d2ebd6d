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
    for low, high in (("data.sources", "models.encoders"),
                      ("models.encoder_decoder", "tasks.translation.task"),
                      ("decoding.search", translator), ("tasks.base", "training.loop"),
                      (translator, "tasks.translation.task"),
                      ("tasks.translation.task", "tasks.captioning.task")):
        assert order.index(low) < order.index(high), (low, high)
    # the registry knows tasks by name only: it imports none of them
    tasks = {m for m in MODULES if m.startswith("tasks.") and m != "tasks.base"}
    assert not graph["tasks"] & tasks
    # and no shared module imports a task's: tasks sit above the machinery they plug into
    for module in MODULES.keys() - tasks - {"__init__", "moved"}:
        assert not graph[module] & tasks, (module, graph[module] & tasks)


# The layers, bottom up: a module imports its own layer's modules and those below, never one
# above. The registry (tasks/__init__.py: ids -> classes, by name) belongs with the config
# that names a task; the task interface (tasks/base.py) sits below the loop that calls it.
# A command (a module with `main`: cli/, and each task's own) sits on top, wherever it lives.
LAYERS = ["config", "data", "models", "evaluation", "task interface", "training", "decoding",
          "export", "serving", "tasks", "commands", "package"]


def _layer(name: str) -> str:
    if name in ("__init__", "moved"):
        return "package"
    if name.startswith("cli.") or any(isinstance(node, ast.FunctionDef) and node.name == "main"
                                      for node in MODULES[name].body):
        return "commands"
    special = {"tasks": "config", "tasks.base": "task interface"}
    return special.get(name, name.split(".")[0])


def test_the_layers_import_downwards_only():
    for name, tree in MODULES.items():
        for used in _imports(tree) - {name}:
            assert LAYERS.index(_layer(used)) <= LAYERS.index(_layer(name)), (
                f"seq2seq/{name} ({_layer(name)}) imports seq2seq/{used} ({_layer(used)})")


def test_the_package_folder_holds_layers_only():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "moved.py"], flat
    layers = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert layers == {"config", "data", "models", "evaluation", "training", "decoding",
                      "export", "serving", "tasks", "cli"}, layers


def test_the_old_paths_give_the_modules_that_moved():
    """`import seq2seq.search` of before issue 28 is the module at seq2seq.decoding.search,
    one object (kept for one release: seq2seq/moved.py)."""
    import importlib

    from seq2seq.moved import OLD_PATHS
    for old, new in OLD_PATHS.items():
        if (PACKAGE / old / "__init__.py").is_file():
            continue  # config, data: packages now, which hand out the old names themselves
        assert importlib.import_module(f"seq2seq.{old}") is importlib.import_module(
            f"seq2seq.{new}"), old
    from seq2seq.config import load_config
    from seq2seq.config.compose import load_config as today
    assert load_config is today


def test_functions_are_under_60_lines():
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"seq2seq/{name}.py: {node.name} is {length} lines"
