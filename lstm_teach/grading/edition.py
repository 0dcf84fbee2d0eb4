"""The student edition of lstm_teach, and the parent's judgement of reference use.

The edition is a copy of the package in which only the modules an assignment keeps exist
(every other module is a stub that raises on use), and from which the assigned functions and
the private helpers only they call are deleted, so the sandbox holds no answer to run.

Reference use is judged here, in the parent, from the submission's source: a function whose
syntax tree, after normalising docstrings, annotations and names, is the reference's (or one
that calls such a copy), or code that names a function the assignment removed, gets no credit.
"""

import ast
import compileall
import shutil
from pathlib import Path

_STUB = '''"""lstm_teach.{name} is not available while this assignment is graded."""


def __getattr__(name):
    raise AttributeError("lstm_teach.{name} is not available while this assignment is graded")
'''
MIN_COPY_NODES = 60  # shorter functions are written the same way by honest students


def package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def _called_names(fn) -> set:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}


def removed_in_module(tree, names: set) -> set:
    """names, plus the private functions of the module that only removed functions call."""
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    removed = set(names) & set(defs)
    changed = True
    while changed:
        changed = False
        for name in defs:
            if name in removed or not name.startswith("_"):
                continue
            users = [d for d, other in defs.items() if d != name
                     and name in _called_names(other)]
            if users and all(u in removed for u in users):
                removed.add(name)
                changed = True
    return removed


def build_edition(dest: Path, keep: list, remove: list) -> Path:
    """Write dest/lstm_teach: modules in keep (plus __init__), remove ("module.function")
    deleted with their private helpers; returns the package folder."""
    src = package_dir()
    pkg = dest / "lstm_teach"
    pkg.mkdir(parents=True)
    by_module = {}
    for entry in remove:
        module, _, name = entry.partition(".")
        by_module.setdefault(module, set()).add(name)
    kept_modules = set(keep) | {"__init__"}
    gone = {}  # module -> names that no longer exist
    for path in sorted(src.glob("*.py")):
        stem = path.stem
        if stem not in kept_modules:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        gone[stem] = removed_in_module(tree, by_module.get(stem, set()))
    for path in sorted(src.iterdir()):
        stem = path.stem
        if path.name in ("__pycache__", "grading") or path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.copytree(path, pkg / path.name, ignore=shutil.ignore_patterns("__pycache__"))
            continue
        if path.suffix != ".py":
            continue
        if stem not in kept_modules:
            (pkg / path.name).write_text(_STUB.format(name=stem), encoding="utf-8")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in gone[stem]:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                mod = node.module.split(".")[0]
                if mod not in kept_modules:
                    continue
                node.names = [a for a in node.names if a.name not in gone.get(mod, set())]
                if not node.names:
                    continue
            if stem == "__init__" and isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                continue
            body.append(node)
        tree.body = body
        (pkg / path.name).write_text(ast.unparse(tree) + "\n", encoding="utf-8")
    (pkg / "grading.py").write_text(_STUB.format(name="grading"), encoding="utf-8")
    compileall.compile_dir(str(pkg), quiet=2)
    return pkg


# ---------------------------------------------------------------- reference use

class _Normalise(ast.NodeTransformer):
    """Names of arguments and locals become v0, v1, ... in order of first appearance."""

    def __init__(self, local):
        self.map = {}
        self.local = local

    def _name(self, name):
        if name not in self.local:
            return name
        return self.map.setdefault(name, f"v{len(self.map)}")

    def visit_arg(self, node):
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self._name(node.id)
        return node

    def visit_FunctionDef(self, node):
        node.name = "f"
        node.returns = None
        node.decorator_list = []
        if ast.get_docstring(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Expr(self, node):  # stray string statements are comments
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return self.generic_visit(node)


def normalised(fn: ast.FunctionDef) -> str | None:
    """A canonical dump of a function, or None when it is too short to judge."""
    if sum(1 for _ in ast.walk(fn)) < MIN_COPY_NODES:
        return None
    fn = ast.parse(ast.unparse(fn)).body[0]
    local = {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    out = _Normalise(local).visit(fn)
    return ast.dump(out, annotate_fields=False, include_attributes=False)


def reference_fingerprints(remove: list) -> dict:
    """normalised dump -> "module.function" for every removed function and its helpers."""
    src = package_dir()
    by_module = {}
    for entry in remove:
        module, _, name = entry.partition(".")
        by_module.setdefault(module, set()).add(name)
    out = {}
    for module, names in by_module.items():
        path = src / f"{module}.py"
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in removed_in_module(tree, names):
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name == name:
                    key = normalised(node)
                    if key:
                        out[key] = f"{module}.{name}"
    return out


def reference_use(sources: list, functions: list, remove: list, fingerprints: dict) -> dict:
    """function name -> why it gets no credit, for each graded function that is (or calls)
    a copy of the reference, or names a function the assignment removed."""
    removed_names = {r.partition(".")[2] for r in remove}
    defs, bad = {}, {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defs[node.name] = node
        for node in ast.walk(tree):  # lt.cell_forward, from lstm_teach.cell import cell_forward
            named = None
            if isinstance(node, ast.Attribute) and node.attr in removed_names:
                named = node.attr
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "lstm_teach"):
                named = next((a.name for a in node.names if a.name in removed_names), None)
            if named:
                bad.setdefault("*", f"names lstm_teach's {named}")
    copies = {}
    for name, node in defs.items():
        key = normalised(node)
        if key in fingerprints:
            copies[name] = f"is a copy of lstm_teach's {fingerprints[key]}"
    out = {}
    for fn in functions:
        seen, todo = set(), [fn]
        while todo:
            name = todo.pop()
            if name in seen or name not in defs:
                continue
            seen.add(name)
            if name in copies:
                out[fn] = copies[name] if name == fn else f"calls {name}, which {copies[name]}"
                break
            todo += [n for n in _called_names(defs[name]) if n in defs]
        if fn not in out and "*" in bad:
            node = defs.get(fn)
            body_attrs = set()
            for sub in ast.walk(node) if node else ():
                if isinstance(sub, ast.Attribute):
                    body_attrs.add(sub.attr)
            if body_attrs & removed_names or node is None:
                out[fn] = bad["*"]
    return out
