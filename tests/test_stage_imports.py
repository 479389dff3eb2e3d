"""The package reads as the pipeline: no stage imports a later one, in the order README.md's repository layout
lists the stages, and the shared vocabulary at the top of prep/ imports no stage."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "prep"
ENTRY_POINTS = ("__init__.py", "__main__.py")  # the public names and the command line: they import stages


def stage_order() -> list[str]:
    """The sub-packages of prep/ in the order of README.md's repository layout."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Repository layout", 1)[1].split("```", 2)[1]
    listing = block.split("\nprep/", 1)[1].split("\nschemas/", 1)[0]
    return re.findall(r"^  (\w+)/", listing, re.MULTILINE)


def imported(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``, a module of ``package`` (``["prep", "evaluate"]``), those
    inside functions too, relative ones made absolute."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # ``from .. import bleu`` imports modules by name; ``from ..store import Store`` one module's contents
            names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names]
    return found


def later_imports(order: list[str], sources: dict[tuple[str, ...], str]) -> list[str]:
    """``file:line imports module`` for every import of a stage that comes after the importer's;
    ``sources``: each module's text by its path in prep/ (``("evaluate", "text_effect.py")``)."""
    problems = []
    for parts, source in sorted(sources.items()):
        if len(parts) == 1 and parts[0] in ENTRY_POINTS:
            continue
        own = order.index(parts[0]) if len(parts) > 1 else -1  # the shared vocabulary comes before every stage
        for line, module in imported(source, ["prep", *parts[:-1]]):
            names = module.split(".")
            if names[0] == "prep" and len(names) > 1 and names[1] in order and order.index(names[1]) > own:
                problems.append(f"prep/{'/'.join(parts)}:{line} imports {module}")
    return problems


def package_sources() -> dict[tuple[str, ...], str]:
    return {p.relative_to(PACKAGE).parts: p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")}


def test_every_stage_is_in_the_readmes_order():
    order = stage_order()
    stages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert stages == set(order), "README.md's repository layout lists the stages in pipeline order: add it there"


def test_no_stage_imports_a_later_one():
    assert later_imports(stage_order(), package_sources()) == []


def test_the_check_finds_a_later_import_wherever_it_is_written():
    """Evaluation importing the synthetic generator, inside a function, relatively; the shared vocabulary
    importing a stage; and nothing for imports of earlier stages, of the same stage or of the vocabulary."""
    order = stage_order()
    sources = {
        ("evaluate", "text_effect.py"): "from ..answer_key import AnswerKey\ndef f():\n    from ..synth import truth\n",
        (
            "evaluate",
            "summary.py",
        ): "from . import metrics\nfrom ..store import Store\nfrom prep.synth.words import x\n",
        ("bleu.py",): "from .errors import InputError\nfrom . import store\n",
        ("__init__.py",): "from .inference import Translator\n",
    }
    assert later_imports(order, sources) == [
        "prep/bleu.py:2 imports prep.store",
        "prep/evaluate/summary.py:3 imports prep.synth.words",
        "prep/evaluate/text_effect.py:3 imports prep.synth",
    ]
