"""The README's Layout section is true: each folder of the package imports only the folders below it
in the pipeline, as the README says (every import counted, those inside functions too)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "charrnn"
README = Path(__file__).parent.parent / "README.md"

# The floors, bottom up (the README's Layout section lists the same order). A module may import
# its own floor and the floors below; the exceptions are named, each with its reason.
FLOORS = ["base", "nn", "data", "engine", "tasks", "use", "interpret", "api", "cli"]
BASE = {"errors", "options", "config", "outputs", "__init__"}  # charrnn/errors.py ...: imported by every floor
# torch_model.py imports no charrnn module (only torch): a floor of its own at the bottom, so that an
# exported model needs nothing else
BASE |= {"torch_model"}
ALLOWED_UP = {
    ("engine", "charrnn.tasks"),  # the engine finds a task by name in the registry, never a task module
    ("tasks", "charrnn.use.sample"),  # the language model's log shows a sample
    ("tasks", "charrnn.use.decode"),  # seq2seq's metrics decode free-running
    ("tasks", "charrnn.use.evaluate"),  # a task's verbs: evaluate, info, translate (lazily, when used)
    ("tasks", "charrnn.use.evaluate_file"),
    ("tasks", "charrnn.use.info"),
    ("tasks", "charrnn.use.translate"),
    ("tasks", "charrnn.use.labelled"),  # classify, tag: validation scores lines as evaluate does; their verbs
    ("base", "charrnn.nn"),  # options.py: the --model choices are the cell registry's names (nn.cells)
    ("use", "charrnn.interpret.live"),  # compare draws the probe curves that train --live records
    ("use", "charrnn.interpret.live_page"),
}


def floor(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE or parts[1] == "__version__":
        return "base"
    if parts[1] in ("api", "__main__"):
        return "api" if parts[1] == "api" else "cli"
    return parts[1]


def imports(path: Path) -> list[str]:
    """Every charrnn module `path` imports (module level or inside functions)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "charrnn":
            if node.module == "charrnn":  # from charrnn import x: x is a module or a name of the package
                out += [f"charrnn.{a.name}" if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()
                        else "charrnn" for a in node.names]
            else:
                out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "charrnn"]
    return out


def violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        here = "api" if module == "charrnn" else floor(module)  # the package re-exports the API
        for target in imports(path):
            there = floor(target)
            if FLOORS.index(there) <= FLOORS.index(here) or (here, target) in ALLOWED_UP:
                continue
            if here in ("tasks", "use") and (here, ".".join(target.split(".")[:3])) in ALLOWED_UP:
                continue
            bad.append(f"{module} ({here}) imports {target} ({there})")
    return bad


def test_every_floor_imports_only_the_floors_below_it():
    assert violations() == []


def test_the_readme_layout_names_the_floors_in_this_order_and_every_module():
    section = README.read_text(encoding="utf-8").split("## Layout", 1)[1]
    tree = section[section.index("    charrnn/\n"):]
    order = [f for f in FLOORS if f not in ("base", "api")]
    positions = [tree.find(f"  {f}/") for f in order]
    assert -1 not in positions and positions == sorted(positions), dict(zip(order, positions))
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            assert re.search(rf"\b{re.escape(path.stem)}\b", section), f"{path} is not in the README's Layout"
