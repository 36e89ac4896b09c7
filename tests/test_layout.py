"""The package layout keeps its promises: small files, unique module names,
no submodule hidden behind a same-named function."""

import collections
import importlib
import pkgutil
import types
from pathlib import Path

import jnn

ROOT = Path(jnn.__file__).parent


def _modules(package=jnn):
    for info in pkgutil.iter_modules(package.__path__):
        name = f"{package.__name__}.{info.name}"
        module = importlib.import_module(name)
        yield package, info.name, module
        if info.ispkg:
            yield from _modules(module)


def test_no_submodule_is_shadowed_by_an_attribute_of_its_package():
    shadowed = [
        f"{package.__name__}.{name}"
        for package, name, module in _modules()
        # An absent attribute is no shadow (a package object that doctest
        # collection imported afresh lacks its submodules' attributes).
        if not isinstance(getattr(package, name, module), types.ModuleType)
    ]
    assert shadowed == []


def test_no_two_modules_share_a_name():
    names = collections.Counter(
        name for _, name, module in _modules() if not hasattr(module, "__path__")
    )
    # One job under one name in each package: its config schema, a task's
    # state and step, a task's losses.
    same_job = {"config", "state", "step", "losses"}
    assert [n for n, count in names.items() if count > 1 and n not in same_job] == []


def test_no_library_file_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}
