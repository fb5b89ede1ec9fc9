"""How ``make test`` spreads the suite over processes (pytest-xdist, ``--dist loadgroup``): every test carries an
``xdist_group`` mark, so the tests of one file run in one process, in order, sharing their module fixtures.
Two kinds of test are gathered across files, because they share something expensive or stateful:

* the browser journeys (``tests/browser``) share one ``motcua serve`` whose state the numbered journeys build on;
* everything that runs on Operaton shares the one Operaton the session builds and starts (one JVM, not one per
  process; its Maven build directory is not made for two builds at once).

Without ``-n`` (a plain ``pytest``) the marks change nothing.
"""

from __future__ import annotations

import pytest

BROWSER = "browser"
OPERATON = "operaton"


def group_of(item: pytest.Item) -> str:
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("tests/browser/"):
        return BROWSER
    if "operaton" in path:
        return OPERATON
    callspec = getattr(item, "callspec", None)
    on_operaton = callspec is not None and callspec.params.get("engine_kind") == OPERATON
    if on_operaton or "operaton_server" in getattr(item, "fixturenames", ()):
        return OPERATON
    return path


def _name_group(item: pytest.Item, group: str) -> None:
    """``<id>@<group>``: what xdist's ``loadgroup`` scheduler reads. xdist 3.8 writes it into ``item._nodeid``,
    which pytest 9 no longer reads (the id is ``item._id``): every test became its own group, and a module's fixtures
    were built once in every process that drew one of its tests. So the group is named here, for either pytest."""
    suffixed = f"{item.nodeid}@{group}"
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId  # pytest 9

        item._id = NodeId.parse(suffixed)
    else:
        item._nodeid = suffixed


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouping = config.getoption("dist", "no") == "loadgroup" or bool(getattr(config.option, "loadgroup", False))
    for item in items:
        group = group_of(item)
        item.add_marker(pytest.mark.xdist_group(group))
        if grouping:
            _name_group(item, group)
