"""The package's layout read from its source, for the tests that keep it honest (commands apart from
libraries, docs/design.md's dependency table): its modules, its commands, and what each module
imports — every ``import`` statement, function bodies included."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1]
# ``python -m mimamo_tf.X``; the console script of each is ``mimamo-X`` with ``_`` as ``-``.
COMMANDS = frozenset({"train", "evaluate", "export", "predict", "tune", "study", "bench", "report", "phase_demo",
                      "convert_weights"})


def console_script(command):
    return "mimamo-" + command.replace("_", "-")


def modules():
    """``{module name: path}`` of every module of the package (``mimamo_tf.data`` for a package)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(path):
    """The dotted names a file imports (``from a import b`` gives ``a`` and ``a.b``), of this package only."""
    names = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == PACKAGE.name}
