"""The shape of the source: imports point one way (no circle, lower folders never import
higher ones), the public faces are only re-exports, and no file carries several concerns
(600 lines at most). Every import counts: module level, inside functions and under
TYPE_CHECKING (Python); ``use crate::``/``super::`` and inline ``crate::`` paths (Rust)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "django_bolt"
RUST = ROOT / "rust"
CORE = "django_bolt._core"
MAX_LINES = 600

#: Bottom to top. A module may import its own unit and the units of lower layers only.
PY_LAYERS: list[set[str]] = [
    {CORE},
    {
        "django_bolt.conf",
        "django_bolt.boundary",
        "django_bolt.models",
        "django_bolt.bootstrap",
    },
    {"django_bolt.contrib"},
    {"django_bolt.contrib.sessions", "django_bolt.contrib.static", "django_bolt.contrib.security"},
    {"django_bolt.http"},
    {"django_bolt.middleware", "django_bolt.utils"},
    {"django_bolt.auth", "django_bolt.contrib.admin"},
    {"django_bolt.websocket"},
    {"django_bolt.routing"},
    {"django_bolt.openapi"},
    {"django_bolt.server"},
    {"django_bolt.testing"},
    {"django_bolt.api", "django_bolt.management", "django_bolt.pytest_plugin"},
    {"django_bolt.apps"},  # Django's entry point: wires the system checks
]
#: The documented import paths: they re-export and nothing inside the package imports them.
FACES = {
    "django_bolt",
    "django_bolt.admin",
    "django_bolt.api",
    "django_bolt.cache",
    "django_bolt.cli",
    "django_bolt.__main__",
    "django_bolt.auth",
    "django_bolt.error_handlers",
    "django_bolt.errors",
    "django_bolt.exceptions",
    "django_bolt.groups",
    "django_bolt.middleware",
    "django_bolt.openapi",
    "django_bolt.pagination",
    "django_bolt.param_functions",
    "django_bolt.params",
    "django_bolt.response",
    "django_bolt.request",
    "django_bolt.responses",
    "django_bolt.serializers",
    "django_bolt.test",
    "django_bolt.uploads",
    "django_bolt.testing",
    "django_bolt.views",
    "django_bolt.websocket",
}
#: Rust folders, bottom to top (``lib`` wires them all).
RUST_LAYERS: list[set[str]] = [
    {"crate::http", "crate::logs", "crate::metrics", "crate::wake"},
    {"crate::store"},
    {"crate::auth"},
    {"crate::policy"},
    {"crate::router"},
    {"crate::ws"},
    {"crate::bridge"},
    {"crate::staticfiles"},
    {"crate::server"},
    {"crate"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in PKG.rglob("*.py")
        if "migrations" not in p.relative_to(PKG).parts
    }


def python_imports() -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in its body)."""
    modules = python_modules()

    def resolve(name: str) -> str | None:
        if name == CORE or name.startswith(CORE + "."):
            return CORE
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import module` names a module; `from module import name` not.
                targets = [
                    f"{prefix}.{a.name}"
                    if f"{prefix}.{a.name}" in modules or f"{prefix}.{a.name}" == CORE
                    else prefix
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target == "django_bolt" or target.startswith("django_bolt."):
                    resolved = resolve(target)
                    if resolved is not None and resolved != module:
                        found.add(resolved)
        graph[module] = found
    return graph


def rust_modules() -> dict[str, Path]:
    out = {}
    for path in RUST.rglob("*.rs"):
        parts = list(path.relative_to(RUST).with_suffix("").parts)
        if parts[-1] in ("mod", "lib"):
            parts.pop()
        out["::".join(["crate", *parts])] = path
    return out


def _rust_target(modules: dict[str, Path], parts: list[str]) -> str | None:
    """The module a path names: its longest prefix that is a module (items are dropped)."""
    while parts and "::".join(parts) not in modules:
        parts = parts[:-1]
    name = "::".join(parts)
    return name if parts and name != "crate" else None


def rust_imports() -> dict[str, set[str]]:
    """module -> the crate modules its non-test code names (files; mod.rs is its folder)."""
    modules = rust_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        text = path.read_text()
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        own = module.split("::")
        parent = own[:-1]
        paths: list[list[str]] = []
        for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)(?:::\{([^}]*)\})?", text):
            head, tail, group = m.group(1), m.group(2).split("::")[1:], m.group(3)
            base = {"crate": ["crate"], "super": parent, "self": own}[head] + tail
            paths.append(base)
            paths.extend([*base, item] for item in re.findall(r"\b(\w+)", group or ""))
        for m in re.finditer(r"\b(crate|super)::\{([^}]*)\}", text):
            base = ["crate"] if m.group(1) == "crate" else parent
            paths.extend([*base, item] for item in re.findall(r"\b(\w+)", m.group(2)))
        targets = {_rust_target(modules, list(parts)) for parts in paths}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _unit(module: str, layers: list[set[str]], sep: str) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for rank, units in enumerate(layers):
        for unit in units:
            if (module == unit or module.startswith(unit + sep)) and (
                best is None or len(unit) > len(best[0])
            ):
                best = (unit, rank)
    return best


def upward_imports(
    graph: dict[str, set[str]], layers: list[set[str]], sep: str, exempt: set[str]
) -> list[str]:
    bad = []
    for module, targets in graph.items():
        if module in exempt:
            continue
        here = _unit(module, layers, sep)
        assert here is not None, f"{module} belongs to no layer"
        for target in targets:
            there = _unit(target, layers, sep)
            assert there is not None, f"{target} belongs to no layer"
            if there[0] != here[0] and there[1] >= here[1]:
                bad.append(f"{module} ({here[0]}) imports {target} ({there[0]})")
    return sorted(bad)


def test_python_imports_have_no_circle() -> None:
    assert circles(python_imports()) == []


def test_python_imports_point_down() -> None:
    faces = FACES - {"django_bolt.api"}
    assert upward_imports(python_imports(), PY_LAYERS, ".", faces) == []


def test_faces_are_not_imported_from_inside_the_package() -> None:
    graph = python_imports()
    inside = {
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module not in FACES
        for target in targets
        if target in FACES
    }
    assert sorted(inside) == []


def test_faces_only_re_export() -> None:
    """A face defines nothing: imports, ``__all__`` and a docstring (``api`` is the top
    facade class and ``admin`` registers with Django's admin, so both are exempt)."""
    modules = python_modules()
    for face in FACES - {"django_bolt.api", "django_bolt.admin"}:
        tree = ast.parse(modules[face].read_text())
        for node in tree.body:
            assert isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr, ast.Assign)), (
                f"{face} defines {ast.dump(node)[:60]}"
            )
            if isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
                assert names <= {"__all__"}, f"{face} assigns {names}"


def test_rust_modules_have_no_circle() -> None:
    assert circles(rust_imports()) == []


def test_rust_imports_point_down() -> None:
    assert upward_imports(rust_imports(), RUST_LAYERS, "::", set()) == []


def test_no_source_file_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in [*PKG.rglob("*.py"), *PKG.rglob("*.pyi"), *RUST.rglob("*.rs")]
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checker_sees_every_kind_of_import() -> None:
    """The graph builders themselves: each import form becomes an edge."""
    graph = python_imports()
    # module level, relative
    assert "django_bolt.routing.plan" in graph["django_bolt.routing.router"]
    # TYPE_CHECKING-only
    assert "django_bolt.routing.router" in graph["django_bolt.routing.viewsets"]
    # function level
    assert "django_bolt.server.supervisor" in graph["django_bolt.management.commands.runbolt"]
    # `from package import module`
    assert "django_bolt.contrib.sessions.middleware" in graph["django_bolt.routing.plan"]
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    # Rust: `use crate::`, `use super::` and an inline `crate::` path
    rust = rust_imports()
    assert "crate::policy::gate" in rust["crate::server::dispatch"]
    assert "crate::server::access_log" in rust["crate::server::state"]
    assert "crate::bridge::stream" in rust["crate::server::http_server"]


def _doc_tree(first_line: str) -> list[str]:
    """The names the architecture page's tree starting at ``first_line`` lists, in order."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text[text.index(f"```\n{first_line}\n") :].split("```", 2)[1]
    names = []
    for line in block.splitlines()[2:]:
        if match := re.match(r"  (\S.*?)(?:\s{2,}|$)", line):
            names += [n for n in re.split(r",\s*", match.group(1)) if n]
    return names


def test_the_architecture_page_draws_the_layers_as_they_are() -> None:
    """docs/architecture.md lists every Python and Rust unit, top to bottom in the order
    of the layers this file enforces."""

    def py_unit(name: str) -> str:
        if name == "_core":
            return CORE
        return "django_bolt." + name.removesuffix(".py").rstrip("/").replace("/", ".")

    def layer(unit: str, layers: list[set[str]]) -> int:
        return next(i for i, units in enumerate(layers) if unit in units)

    listed = [py_unit(n) for n in _doc_tree("django_bolt/") if n != "migrations/"]
    units = set().union(*PY_LAYERS) - {"django_bolt.contrib"}
    assert sorted(set(listed)) == sorted(units)
    order = [layer(u, PY_LAYERS) for u in listed]
    assert order == sorted(order, reverse=True), list(zip(listed, order, strict=True))

    rust = [n.removesuffix(".rs").rstrip("/") for n in _doc_tree("rust/")]
    rust = ["crate" if n == "lib" else f"crate::{n}" for n in rust]
    assert sorted(rust) == sorted(set().union(*RUST_LAYERS))
    order = [layer(u, RUST_LAYERS) for u in rust]
    assert order == sorted(order, reverse=True), list(zip(rust, order, strict=True))
