"""The layout rules a reader relies on: no import cycle between features, and where imports may go.

A feature is a package of `marketplace/` (accounts, projects, results...). Three kinds of module
sit outside the feature graph, each for a stated reason, and each is checked for it here:
- `models.py`: the schema, shared by every feature (a foreign key names another feature's table);
  a models module imports only the database layer and other models.
- `jobs.py`: declarations of the jobs a feature runs (marketplace.queue.Job), importing no other feature;
  any feature may queue another's job without depending on its code.
- `store.py` / `*_store.py`: a table owner's writes (and dialect pairs) that other features call
  instead of writing its table themselves. A store is transparent in the graph: a module that
  imports a store depends on whatever the store imports (through other stores too), so a store that
  pulled in feature logic would show up as the cycle it closes.
- `routes.py`: the HTTP layer, on top; only `marketplace/routes.py` imports it, so a route may
  compose several features (check ownership in projects, then read quality's report).
Every other module's imports, at module level or inside a function, are edges between features,
and those edges must form no cycle. `inference/` is a library: it imports nothing of the app.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "marketplace"
SHARED = {"models.py", "jobs.py"}
DATABASE_LAYER = {"marketplace.db", "marketplace.extensions"}


def _is_store(path: Path) -> bool:
    """A table owner's store module (store.py or *_store.py)."""
    return path.stem == "store" or path.stem.endswith("_store")


def _features() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) of every absolute `marketplace.*` import in a file."""
    tree = ast.parse(path.read_text())
    nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, name, id(node) in nested) for name in names if name.startswith("marketplace.")]
    return found


def _target(module: str, features: set[str]) -> tuple[str, str] | None:
    """(feature, module file name) an import reaches, or None outside the features."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in features:
        return None
    return parts[1], (parts[2] + ".py") if len(parts) > 2 else "__init__.py"


def _store_deps(feature: str, name: str, features: set[str], seen: set) -> list[tuple[str, str]]:
    """(feature, import line) of what store `feature/name` imports outside the shared layer, through stores too."""
    if (feature, name) in seen:
        return []
    seen.add((feature, name))
    found = []
    for line, module, _ in _imports(PACKAGE / feature / name):
        target = _target(module, features)
        if not target or target[1] in SHARED:
            continue
        if _is_store(Path(target[1])):
            found += _store_deps(target[0], target[1], features, seen)
        else:
            found.append((target[0], f"{feature}/{name}:{line} imports {module}"))
    return found


def _edges() -> dict[str, dict[str, list[str]]]:
    features = _features()
    edges: dict[str, dict[str, list[str]]] = {f: {} for f in features}
    for feature in features:
        for path in sorted((PACKAGE / feature).glob("*.py")):
            if path.name in SHARED or path.name == "routes.py":
                continue
            for line, module, _ in _imports(path):
                target = _target(module, features)
                if not target or target[1] in SHARED:
                    continue
                where = f"{feature}/{path.name}:{line} imports {module}"
                reached = ([(f, f"{where}, which reaches: {how}") for f, how in
                            _store_deps(target[0], target[1], features, set())]
                           if _is_store(Path(target[1])) else [(target[0], where)])
                for other, how in reached:
                    if other != feature:
                        edges[feature].setdefault(other, []).append(how)
    return edges


def _cycle(edges: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of the feature graph as the import lines that make it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt):] + [nxt]
                return [edges[a][b][0] for a, b in zip(loop, loop[1:])]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_features():
    assert _cycle(_edges()) is None, "import cycle between features:\n" + "\n".join(_cycle(_edges()))


def test_the_cycle_check_finds_a_cycle():
    edges = {"a": {"b": ["a imports b"]}, "b": {"c": ["b imports c"]}, "c": {"a": ["c imports a"]}, "d": {}}
    assert _cycle(edges) == ["a imports b", "b imports c", "c imports a"]
    assert _cycle({"a": {"b": ["x"]}, "b": {}}) is None


def test_models_import_only_the_database_layer_and_other_models():
    features = _features()
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
             for path in PACKAGE.glob("*/models.py")
             for line, module, _ in _imports(path)
             if module not in DATABASE_LAYER and not any(module.startswith(d + ".") for d in DATABASE_LAYER)
             and (_target(module, features) or ("", ""))[1] != "models.py"]
    assert not wrong, wrong


def test_job_declarations_import_no_other_feature():
    features = _features()
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}" for path in PACKAGE.glob("*/jobs.py")
             for line, module, _ in _imports(path)
             if _target(module, features) and _target(module, features)[0] != path.parent.name]
    assert not wrong, wrong


def test_only_the_app_imports_routes():
    features = _features()
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}" for path in PACKAGE.rglob("*.py")
             if path != PACKAGE / "routes.py"
             for line, module, _ in _imports(path) if (_target(module, features) or ("", ""))[1] == "routes.py"]
    assert not wrong, wrong


def test_inference_imports_nothing_of_the_app():
    wrong = [f"{path.name}:{line} imports {module}" for path in (PACKAGE / "inference").glob("*.py")
             for line, module, _ in _imports(path) if not module.startswith("marketplace.inference")]
    assert not wrong, wrong


def test_no_feature_import_hides_inside_a_function():
    """An import inside a function hides a dependency; one that must (import order) says why on its line."""
    features = _features()
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().splitlines()
        for line, module, nested in _imports(path):
            if nested and _target(module, features) and "#" not in lines[line - 1]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not wrong, wrong


def test_dialect_switches_live_in_store_modules():
    """A PostgreSQL/portable pair lives in its table owner's store module (or db.py's helpers), nowhere else."""
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "db.py" or path.stem == "store" or path.stem.endswith("_store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "is_postgres":
                wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not wrong, wrong


def test_nothing_in_the_app_imports_the_demo():
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {module}" for path in PACKAGE.rglob("*.py")
             if "demo" not in path.relative_to(PACKAGE).parts
             for line, module, _ in _imports(path) if module.startswith("marketplace.demo")]
    assert not wrong, wrong


def _owners() -> dict[str, str]:
    """Model class name -> the feature whose models.py defines it."""
    found = {}
    for path in PACKAGE.glob("*/models.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found[node.name] = path.parent.name
    return found


def _feature_nodes():
    """(file, feature, AST node) of every node in the features' modules (not inference/, not the demo)."""
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) >= 2 and parts[0] not in ("inference", "demo"):
            for node in ast.walk(ast.parse(path.read_text())):
                yield path, parts[0], node


def test_only_a_tables_owner_writes_it():
    """No insert/update/delete statement on another feature's model outside that feature (its store is the way in).

    Statements are what this sees (insert(X), update(X), delete(X), upsert(X), X.__table__.delete());
    changes to loaded rows are the next test's.
    """
    owners = _owners()
    wrong = []
    for path, feature, node in _feature_nodes():
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            model = None
            if name in ("insert", "update", "delete", "upsert") and node.args:
                target = node.args[0]
                model = getattr(target, "id", None) or getattr(getattr(target, "value", None), "id", None)
            elif name == "delete" and isinstance(node.func, ast.Attribute):  # X.__table__.delete()
                model = getattr(getattr(node.func.value, "value", None), "id", None)
            if model in owners and owners[model] != feature:
                wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} writes {model} (owned by {owners[model]})")
    assert not wrong, wrong


# The names a loaded row of another feature's table goes by in this code base.
ROW_NAMES = {"task": "tasks", "project": "projects", "assignment": "assignments", "account": "accounts",
             "result": "results", "review": "reviews", "stats": "quality", "dispute": "disputes"}


def test_loaded_rows_are_changed_by_their_owner_only():
    """`task.status = ...` outside tasks/ (and the like for the other tables): call the owner's store instead."""
    wrong = []
    for path, feature, node in _feature_nodes():
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign) else []
        for target in targets:
            for leaf in (target.elts if isinstance(target, ast.Tuple) else [target]):
                if isinstance(leaf, ast.Attribute) and isinstance(leaf.value, ast.Name):
                    owner = ROW_NAMES.get(leaf.value.id)
                    if owner and owner != feature:
                        wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno} sets {leaf.value.id}.{leaf.attr}")
    assert not wrong, wrong
