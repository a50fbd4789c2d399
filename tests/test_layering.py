"""Imports go one way: codegen reads .tflite files and CSR tables and writes C; it never reaches up into the stages
that run models (convert, modeldir, hostc, ...), and its own modules form no circle (docs/runtime.md)."""

import ast
from pathlib import Path

import tinyqi

PACKAGE = Path(tinyqi.__file__).parent
# What codegen may use: itself and the leaf modules below every stage.
CODEGEN_MAY_IMPORT = {"tinyqi", "tinyqi.codegen", "tinyqi.errors", "tinyqi.csr", "tinyqi.tflite_model",
                      "tinyqi.files"}


def _imports(path: Path) -> set[str]:
    """Every tinyqi module a file imports, at the top or inside a function (`from tinyqi.codegen import ops_s8`
    counts as tinyqi.codegen.ops_s8 when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinyqi"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).is_file() else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tinyqi"))
    return found


def _codegen_modules() -> dict[str, set[str]]:
    return {f"tinyqi.codegen.{p.stem}" if p.stem != "__init__" else "tinyqi.codegen": _imports(p)
            for p in sorted((PACKAGE / "codegen").glob("*.py"))}


def test_codegen_does_not_reach_up_into_the_stages_that_run_models():
    for module, imports in _codegen_modules().items():
        outside = {name for name in imports if not name.startswith("tinyqi.codegen")} - CODEGEN_MAY_IMPORT
        assert not outside, f"{module} imports {sorted(outside)}"


def test_codegen_modules_form_no_circle():
    graph = {module: {name for name in imports if name in _codegen_modules() and name != module}
             for module, imports in _codegen_modules().items()}
    graph["tinyqi.codegen"] = set()  # the package's __init__ is the entry point that imports the rest

    def visit(module, path):
        assert module not in path, " -> ".join([*path, module])
        for name in graph[module]:
            visit(name, [*path, module])

    for module in graph:
        visit(module, [])
