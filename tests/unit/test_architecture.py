"""The engine's layout keeps its rules: no import cycle among the modules of `mtae_core`
(imports inside functions count; those under ``if TYPE_CHECKING:`` do not, as they never
run), no module importing another package's private names, and no streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mtae_core"


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at module level, in functions, in classes;
    not under ``if TYPE_CHECKING:`` (annotations only)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _target(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _edges() -> tuple[dict[str, set[str]], list[str]]:
    """module -> the modules of mtae_core it imports (importing ``a.b.c`` runs ``a.b``'s
    ``__init__`` too); and every import of a private name from another package."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    private: list[str] = []
    for mod, (path, is_pkg) in mods.items():
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = _target(mod, is_pkg, node)
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
                pkg_of = mod if is_pkg else mod.rsplit(".", 1)[0]
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__") and \
                            not base.startswith(pkg_of) and base.startswith("mtae_core"):
                        private.append(f"{mod} imports {base}.{a.name}")
            for t in targets:
                parts = t.split(".")
                for i in range(2, len(parts) + 1):  # the packages on the way run too
                    q = ".".join(parts[:i])
                    if q in mods and q != mod and not mod.startswith(q + "."):
                        deps.add(q)
        graph[mod] = deps
    return graph, private


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_engine_has_no_import_cycle() -> None:
    graph, _ = _edges()
    assert len(graph) > 50  # the walk found the engine's modules
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    """The checker itself: a cycle through a function-level import is found."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_count_and_type_checking_ones_do_not() -> None:
    tree = ast.parse("if TYPE_CHECKING:\n    import x\n\ndef f():\n    import y\n")
    assert [a.names[0].name for a in _imports(tree)] == ["y"]  # type: ignore[union-attr]


def test_no_module_imports_another_packages_private_names() -> None:
    _, private = _edges()
    assert private == []


def test_registries_never_import_the_config_or_the_store() -> None:
    graph, _ = _edges()
    for package in ("mtae_core.data", "mtae_core.models", "mtae_core.weighting",
                    "mtae_core.schedules", "mtae_core.registry", "mtae_core.errors"):
        for mod, deps in graph.items():
            if mod == package or mod.startswith(package + "."):
                bad = {d for d in deps if d in ("mtae_core.config", "mtae_core.store")
                       or d.startswith("mtae_core.store.")}
                assert not bad, f"{mod} imports {bad}"


def test_the_engine_never_imports_streamlit() -> None:
    for path, _ in _modules().values():
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            assert not any(n.split(".")[0] == "streamlit" for n in names), path
