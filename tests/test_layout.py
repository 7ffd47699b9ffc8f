"""The shape of the package, kept: imports go down the layers of docs/architecture.md (every module listed, no
import circle), and nothing outside booster.py reaches into a Booster private (extension goes through
run_buffer, selector=, observers=)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import vsodboost
from vsodboost.booster import Booster

ROOT = Path(vsodboost.__file__).resolve().parent.parent
BOOSTER = ROOT / "vsodboost" / "booster.py"


def _modules() -> dict[str, Path]:
    """Dotted name → file of every module of the package (``adapters/`` ships as ``vsodboost.adapters``)."""
    out = {}
    for base, prefix in ((ROOT / "vsodboost", ("vsodboost",)), (ROOT / "adapters", ("vsodboost", "adapters"))):
        for path in base.rglob("*.py"):
            parts = prefix + path.relative_to(base).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """The package modules ``name`` imports when it runs (at the top or in a function; not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in
                   ast.unparse(node.test) for n in ast.walk(node)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("vsodboost")]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]) if node.level \
                else node.module or ""
            base = base.rstrip(".")
            if base.startswith("vsodboost"):  # `from . import plugins` imports the module vsodboost.plugins
                found += [(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base, node.lineno)
                          for a in node.names]
    return found


def _layers() -> dict[str, int]:
    """Unit (``io``, ``flow/``) → its layer, read from the ```layers block of docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    out = {}
    for line in block.group(1).splitlines():
        level, _, units = line.strip().partition(" ")
        for unit in (u.strip() for u in units.split(",")):
            assert unit not in out, f"{unit} is listed twice in docs/architecture.md's layers"
            out[unit] = int(level)
    return out


def _unit(module: str, modules: dict[str, Path]) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "vsodboost"
    top = "vsodboost." + parts[0]
    return parts[0] + "/" if modules[top].name == "__init__.py" else parts[0]


def test_every_module_has_a_layer_and_imports_only_go_down():
    modules, layers = _modules(), _layers()
    units = {_unit(m, modules) for m in modules} - {"vsodboost"}
    assert units == set(layers), (f"not in docs/architecture.md's layers: {sorted(units - set(layers))}; "
                                  f"listed but absent: {sorted(set(layers) - units)}")
    wrong = []
    for name, path in sorted(modules.items()):
        here = _unit(name, modules)
        for target, line in _imports(name, path, modules):
            there = _unit(target, modules) if target in modules else None
            if there is None or there == here or here == "vsodboost":
                continue  # outside the package, the same unit, or the public face gathering names
            if there == "vsodboost":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports the public face vsodboost")
            elif layers[there] > layers[here]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({here}, layer {layers[here]}) imports {target} "
                             f"({there}, layer {layers[there]})")
    assert not wrong, "imports going up the layers:\n" + "\n".join(wrong)


def test_no_import_circle():
    modules = _modules()
    graph = {name: {t for t, _ in _imports(name, path, modules) if t in modules and t != name
                    and not t.startswith(name + ".")}  # a package gathering its own modules is no circle
             for name, path in modules.items() if name != "vsodboost"}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:  # depth first; `path` ends with `node`
        for nxt in sorted(graph.get(node, ())):
            assert nxt not in path, "import circle: " + " → ".join(path[path.index(nxt):] + [nxt])
            if nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])


#: Public modules that are the face of a private one: their __all__ may name what the private module defines.
FACES = {"vsodboost.video": "vsodboost._decode"}


def test_a_name_in_a_modules_all_has_its_home_there():
    """One home per name: a module's ``__all__`` lists what it defines, not what it imports (a package's
    ``__init__`` gathers its modules' names: that is its job)."""
    modules, wrong = _modules(), []
    for name, path in sorted(modules.items()):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        home, listed = set(), []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                home.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                home |= {t.id for t in targets if isinstance(t, ast.Name)}
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                    listed = ast.literal_eval(node.value)
            elif isinstance(node, ast.ImportFrom) and FACES.get(name, "").endswith("." + (node.module or "")):
                home |= {a.asname or a.name for a in node.names}
        wrong += [f"{name}.{n}" for n in listed if n not in home]
    assert not wrong, f"listed in __all__ but defined elsewhere: {wrong}"


def test_bench_is_an_application_of_small_modules():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "vsodboost" / "bench").glob("*.py")}
    assert max(sizes.values()) <= 300, sizes


def test_no_module_outside_booster_py_touches_a_booster_private():
    private = {n for n in vars(Booster) if n.startswith("_") and not n.startswith("__")}
    private |= {"_run_buffer", "_iterations", "_on_iteration", "_stream", "_stream_buffer", "_predict_target"}
    assert {"_mine", "_tune_and_predict"} <= private  # the scan below would catch them
    offenders = []
    for folder in ("vsodboost", "adapters", "scripts", "benchmarks", "examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in (BOOSTER, Path(__file__).resolve()):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
                if isinstance(node, ast.Constant) and node.value in private:  # monkeypatch.setattr(b, "_x", ...)
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, "Booster privates used outside booster.py: " + ", ".join(offenders)
