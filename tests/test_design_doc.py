"""docs/design.md stays true: its dependency table (section 2) equals the imports of the code, every
package and top-level library module has a row, and the graph has no circle."""

import pathlib
import re

from mimamo_tf.testing.package_layout import COMMANDS, PACKAGE, imported_names, modules

DESIGN = pathlib.Path(__file__).resolve().parents[1] / "docs" / "design.md"


def _unit(module):
    """The table's unit of a module name: ``runs``, ``data/``, ``commands`` (or None outside the package)."""
    parts = module.split(".")
    if parts[0] != "mimamo_tf" or len(parts) == 1:
        return None
    if (PACKAGE / parts[1]).is_dir():
        return parts[1] + "/"
    if (PACKAGE / f"{parts[1]}.py").is_file():
        return "commands" if parts[1] in COMMANDS else parts[1]
    return None  # a name imported from the package itself, e.g. __version__


def real_dependencies():
    """``{unit: units it imports}`` from every ``import`` statement of the package (function bodies too)."""
    graph = {}
    for name, path in modules().items():
        unit = _unit(name)
        if unit is None:
            continue
        graph.setdefault(unit, set()).update(u for u in map(_unit, imported_names(path)) if u and u != unit)
    return graph


def documented_dependencies():
    text = DESIGN.read_text()
    section = text[text.index("## 2. Modules and their dependencies"):text.index("## 3.")]
    table = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        table[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[2]))
    return table


def test_the_dependency_table_equals_the_real_imports():
    real = {unit: deps for unit, deps in real_dependencies().items() if unit != "commands"}
    documented = documented_dependencies()
    assert set(documented) == set(real), (f"rows missing: {sorted(set(real) - set(documented))}; "
                                          f"rows of no unit: {sorted(set(documented) - set(real))}")
    wrong = {unit: {"documented": sorted(documented[unit]), "real": sorted(real[unit])}
             for unit in real if documented[unit] != real[unit]}
    assert not wrong, f"docs/design.md section 2 disagrees with the imports: {wrong}"


def test_dependencies_point_one_way():
    graph = {u: d - {"commands"} for u, d in real_dependencies().items() if u != "commands"}
    done, path = set(), []

    def visit(unit):
        if unit in path:
            raise AssertionError(f"import circle: {' -> '.join(path[path.index(unit):] + [unit])}")
        if unit in done:
            return
        path.append(unit)
        for dependency in graph.get(unit, ()):
            visit(dependency)
        path.pop()
        done.add(unit)

    for unit in graph:
        visit(unit)


def test_only_benchmarks_and_commands_import_the_test_helpers():
    importers = {unit for unit, deps in real_dependencies().items() if "testing/" in deps}
    assert importers <= {"benchmarks/", "commands"}, importers
