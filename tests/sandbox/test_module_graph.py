"""The sandbox's module graph has no cycle, counting every import of a sandbox module (at the
top, under ``TYPE_CHECKING`` or inside a function): each module only imports lower ones."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import airflow_provider_altcraft.sandbox as sandbox_package

PACKAGE = "airflow_provider_altcraft.sandbox"
ROOT = Path(sandbox_package.__file__).parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([PACKAGE, *parts])] = path
    return modules


def _graph() -> dict[str, set[str]]:
    """module -> the sandbox modules it names in an import statement (anywhere in the file)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                # "from package import submodule" imports the submodule
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_sees_the_modules() -> None:
    graph = _graph()
    assert f"{PACKAGE}.ledger.core" in graph[f"{PACKAGE}.ledger.accounts"]
    assert f"{PACKAGE}.control" in graph[f"{PACKAGE}.app"]
    assert f"{PACKAGE}.persistence" in graph[f"{PACKAGE}.app"]


def test_no_import_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(name.removeprefix(PACKAGE + ".") for name in cycle or [])


def test_lower_modules_never_import_the_application() -> None:
    graph = _graph()
    for name in ("control", "persistence", "api", "body", "http", "ledger"):
        assert f"{PACKAGE}.app" not in graph[f"{PACKAGE}.{name}"], name


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Each module imported on its own (its package first, as Python does) works."""
    names = [name for name in _modules() if not name.endswith("__main__")]
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('airflow_provider_altcraft')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    subprocess.run([sys.executable, "-c", script, *names], check=True, timeout=120)


def test_the_sandbox_imports_only_the_standard_library() -> None:
    """docs/sandbox.md says so: it runs anywhere, without Airflow or any other package."""
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_altcraft.sandbox, airflow_provider_altcraft.sandbox.cli\n"
        f"names = {sorted(name for name in _modules() if not name.endswith('__main__'))!r}\n"
        "for name in names:\n"
        "    __import__(name)\n"
        "top = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(top - set(sys.stdlib_module_names) - {'airflow_provider_altcraft'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.strip() == "[]"
