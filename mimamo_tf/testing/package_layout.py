"""The project's layout read from its source, for the tests that keep it honest (commands apart from
libraries, docs/design.md's dependency tables, no import circle): the modules of its two packages
(``mimamo_tf`` and ``data_prep``), their commands, and what each module imports — every ``import``
statement, function bodies included."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1]
# The two top-level packages, side by side (in the checkout and in site-packages).
PACKAGES = {"mimamo_tf": PACKAGE, "data_prep": PACKAGE.parent / "data_prep"}
# ``python -m mimamo_tf.X``; the console script of each is ``mimamo-X`` with ``_`` as ``-``.
COMMANDS = frozenset({"train", "evaluate", "export", "predict", "tune", "study", "bench", "report", "phase_demo",
                      "convert_weights"})
# ``python -m data_prep.X``.
DATA_PREP_COMMANDS = frozenset({"prepare", "inspect", "synthetic", "bench_backbones"})


def console_script(command):
    return "mimamo-" + command.replace("_", "-")


def command_modules():
    """The dotted names of every command module of both packages."""
    return ({f"mimamo_tf.{name}" for name in COMMANDS} | {f"data_prep.{name}" for name in DATA_PREP_COMMANDS})


def modules(package="mimamo_tf"):
    """``{module name: path}`` of every module of ``package`` (``mimamo_tf.data`` for a package)."""
    root = PACKAGES[package]
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(path, packages=("mimamo_tf",)):
    """The dotted names a file imports (``from a import b`` gives ``a`` and ``a.b``), of ``packages`` only."""
    names = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in packages}


def imported_modules(path, known):
    """The modules among ``known`` (dotted names) a file imports: ``from a import b`` is the module
    ``a.b`` when it is one, else ``a``."""
    found = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in known:
                    found.add(full)
                elif node.module in known:
                    found.add(node.module)
    return found


def function_level_imports(path):
    """``[(line, text of the line and the one before)]`` of every import statement inside a function."""
    source = pathlib.Path(path).read_text()
    lines = source.splitlines()
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                found.append((child.lineno, "\n".join(lines[max(child.lineno - 2, 0):child.lineno])))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(source), False)
    return found
