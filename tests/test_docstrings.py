"""The public API's docstrings follow the convention of docs/data.md#docstrings: every parameter of a public
function, class (its constructor) and public method has its entry under ``Args:``, in the signature's order."""

from __future__ import annotations

import inspect
import re

import pytest

import prep
import prep.evaluate

# The stable API that follows the convention (docs/data.md#docstrings); what joins it is added here.
DOCUMENTED = [
    prep.evaluate.evaluate,
    prep.evaluate.read,
    prep.PoseDataset,
    prep.StratifiedBatchSampler,
    prep.Translator,
]


def documented(doc: str | None) -> list[str]:
    """The parameter names of a docstring's ``Args:`` entries (``num_replicas, rank:`` gives two), in order."""
    lines = inspect.cleandoc(doc or "").splitlines()
    if "Args:" not in lines:
        return []
    names = []
    for line in lines[lines.index("Args:") + 1 :]:
        if line and not line.startswith(" "):  # the next section, or prose
            break
        entry = re.match(r"^    (\w+(?:, \w+)*):", line)
        if entry:
            names += entry.group(1).split(", ")
    return names


def parameters(function) -> list[str]:
    skipped = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        name
        for name, p in inspect.signature(function).parameters.items()
        if name not in ("self", "cls") and p.kind not in skipped
    ]


def public_callables(obj) -> list[tuple[str, object, str | None]]:
    """(name, callable, docstring) of ``obj``, and for a class of its constructor (under the class's docstring)
    and of each public method it defines (properties have no parameters)."""
    if not inspect.isclass(obj):
        return [(obj.__qualname__, obj, obj.__doc__)]
    found = [(obj.__name__, obj.__init__, obj.__doc__)]
    for name, member in vars(obj).items():
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, classmethod | staticmethod)):
            continue
        function = getattr(obj, name)
        found.append((f"{obj.__name__}.{name}", function, function.__doc__))
    return found


def undocumented(obj) -> list[str]:
    """``name: documented [...], parameters [...]`` for each callable of ``obj`` whose ``Args:`` differ."""
    return [
        f"{name}: documented {documented(doc)}, parameters {parameters(function)}"
        for name, function, doc in public_callables(obj)
        if documented(doc) != parameters(function)
    ]


@pytest.mark.parametrize("obj", DOCUMENTED, ids=lambda obj: obj.__qualname__)
def test_every_parameter_of_the_public_api_is_documented(obj):
    assert undocumented(obj) == []


def test_the_check_finds_a_parameter_missing_added_or_out_of_order():
    class Example:
        """An example.

        Args:
            first: documented.
            second, third: documented together.
        """

        def __init__(self, first, second, third, *args, **kwargs): ...

        def method(self, only):
            """Undocumented."""

        @classmethod
        def build(cls, a, b):
            """Built.

            Args:
                b: out of order.
                a: out of order.

            Returns:
                an Example.
            """

        def _private(self, x): ...

    assert undocumented(Example) == [
        "Example.method: documented [], parameters ['only']",
        "Example.build: documented ['b', 'a'], parameters ['a', 'b']",
    ]
    assert documented(prep.PoseDataset.__doc__)[:2] == ["store_or_url", "split"]
