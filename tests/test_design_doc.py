"""docs/design.md stays true: its dependency table (section 2) equals the imports of the code, every
package and top-level library module has a row, and the graph has no circle; across both packages
(mimamo_tf and data_prep) no module is in an import circle, no command imports a command, and the
few imports inside functions each say why."""

import pathlib
import re

from mimamo_tf.testing.package_layout import (COMMANDS, PACKAGE, PACKAGES, command_modules, function_level_imports,
                                              imported_modules, imported_names, modules)

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


def assert_no_circle(graph):
    """``graph``: ``{node: nodes it imports}``; fails naming the first circle found."""
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError(f"import circle: {' -> '.join(path[path.index(node):] + [node])}")
        if node in done:
            return
        path.append(node)
        for dependency in sorted(graph.get(node, ())):
            visit(dependency)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_dependencies_point_one_way():
    assert_no_circle({u: d - {"commands"} for u, d in real_dependencies().items() if u != "commands"})


def test_only_benchmarks_and_commands_import_the_test_helpers():
    importers = {unit for unit, deps in real_dependencies().items() if "testing/" in deps}
    assert importers <= {"benchmarks/", "commands"}, importers


def _every_module():
    return {name: path for package in PACKAGES for name, path in modules(package).items()}


def test_no_module_of_either_package_is_in_an_import_circle():
    """Module by module (inside a unit too, function bodies included), not only between the units of
    the table: ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``."""
    every = _every_module()
    assert_no_circle({name: imported_modules(path, every) - {name} for name, path in every.items()})


def test_no_command_imports_a_command_and_mimamo_tf_never_imports_data_prep():
    commands = command_modules()
    every = _every_module()
    assert commands <= set(every), sorted(commands - set(every))
    offenders = {name: sorted(imported_names(path, tuple(PACKAGES)) & commands)
                 for name, path in every.items() if imported_names(path, tuple(PACKAGES)) & commands}
    assert not offenders, f"modules importing a command module: {offenders}"
    reverse = {name: sorted(imported_names(path, ("data_prep",))) for name, path in modules("mimamo_tf").items()
               if imported_names(path, ("data_prep",))}
    assert not reverse, f"mimamo_tf importing data_prep: {reverse}"


# Imports inside functions hide a file's dependencies and save nothing (``import mimamo_tf`` loads
# Keras anyway): the few left defer an optional dependency or a heavy import a light caller must not
# pay, and say so on the line or the one before (``# deferred: <why>``). 257 before issue 26.
MAX_FUNCTION_LEVEL_IMPORTS = 51


def test_function_level_imports_are_few_and_each_says_why():
    found = {f"{path.relative_to(PACKAGE.parent)}:{line}": text for path in _every_module().values()
             for line, text in function_level_imports(path)}
    unexplained = sorted(place for place, text in found.items() if "# deferred:" not in text)
    assert not unexplained, f"function-level imports without a '# deferred: <why>' comment: {unexplained}"
    assert len(found) <= MAX_FUNCTION_LEVEL_IMPORTS, sorted(found)
