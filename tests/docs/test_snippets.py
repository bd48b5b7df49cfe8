"""Every code snippet of the docs comes from a file a test runs, and still matches it.

Sphinx pages include their snippets (``literalinclude`` of a marked region); GitHub cannot
include files, so the README carries copies, each announced by an HTML comment naming its
source region, and compared here with it. The snippets that are not example DAGs live in
tests/docs/snippets.py and run here against the sandbox.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.docs import snippets
from tests.docs.markdown import (
    DOCS,
    FOREIGN_PAGES,
    REPO,
    code_blocks,
    markdown_files,
    region,
)

README = REPO / "README.md"
#: Inline Python blocks allowed in docs/: installation.md is the PyPI page, which cannot include
#: files; tests/packaging/test_wheel.py runs its DAG from a clean install of the wheel.
INLINE_PYTHON_PAGES = {"installation.md"}


def _tests_naming(stem: str) -> list[str]:
    """The test files (outside tests/docs) that name an example DAG: they load or run it."""
    return [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "tests").rglob("*.py"))
        if "docs" not in path.relative_to(REPO / "tests").parts[:1]
        and stem in path.read_text(encoding="utf-8")
    ]


def _same_code(shown: str, source: str) -> bool:
    """Equal but for blank lines: ``ruff format`` gives a README block (a module) two blank
    lines around a function, where the indented source region has one."""
    return [line for line in shown.split("\n") if line.strip()] == [
        line for line in source.split("\n") if line.strip()
    ]


def _readme_snippets() -> list[tuple[int, str, str, str]]:
    """(line, source path, region name, shown code) of every announced README snippet."""
    found = []
    for block in code_blocks(README.read_text(encoding="utf-8")):
        if block.comment is None:
            continue
        announced = re.fullmatch(r"<!-- snippet: (\S+) (\S+) -->", block.comment)
        assert announced, f"README.md:{block.line}: unknown comment {block.comment!r}"
        found.append((block.line, announced.group(1), announced.group(2), block.body))
    return found


def test_readme_snippets_match_their_source() -> None:
    shown = _readme_snippets()
    assert shown, "the README shows the two-phase example"
    for line, source, name, code in shown:
        expected = region(REPO / source, name)
        assert _same_code(code, expected), (
            f"README.md:{line} differs from {source} [{name}]; copy the region again:\n{expected}"
        )


def test_readme_python_blocks_are_all_announced_snippets() -> None:
    blocks = [b for b in code_blocks(README.read_text(encoding="utf-8")) if b.info == "python"]
    loose = [b.line for b in blocks if b.comment is None]
    assert not loose, f"README.md: Python blocks at lines {loose} are not copies of a region"


def _node(expression: ast.expr) -> list[str]:
    """The task names in one operand of ``>>``: ``commit``, ``report(...)``, ``[a, b]``."""
    if isinstance(expression, ast.List):
        return [name for item in expression.elts for name in _node(item)]
    if isinstance(expression, ast.Call):
        return _node(expression.func)
    if isinstance(expression, ast.Name):
        return [expression.id]
    raise AssertionError(f"unexpected dependency operand: {ast.dump(expression)}")


def _edges(code: str) -> set[tuple[str, str]]:
    """The ``a >> b`` dependencies a snippet declares, by variable (or task function) name."""
    edges: set[tuple[str, str]] = set()

    def chain(expression: ast.expr) -> list[str]:
        if isinstance(expression, ast.BinOp) and isinstance(expression.op, ast.RShift):
            upstream = chain(expression.left)
            downstream = _node(expression.right)
            edges.update((up, down) for up in upstream for down in downstream)
            return downstream
        return _node(expression)

    for statement in ast.walk(ast.parse(textwrap.dedent(code))):
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.BinOp):
            chain(statement.value)
    return edges


def _keeps_a_failed_business_step_failed(code: str) -> bool:
    """Some leaf other than the rollback lies downstream of the business step: that leaf ends
    ``upstream_failed`` when the business step fails, and so does the run. (Airflow decides a
    run's state from its leaves; a succeeded rollback as the only leaf makes it green.)"""
    edges = _edges(code)
    nodes = {name for edge in edges for name in edge}
    leaves = {name for name in nodes if not any(up == name for up, _ in edges)}
    reached, frontier = set(), {"business"}
    while frontier:
        reached |= frontier
        frontier = {down for up, down in edges if up in frontier} - reached
    return bool((leaves - {"rollback"}) & reached)


def test_the_two_phase_snippets_keep_a_failed_business_step_failed() -> None:
    (readme,) = [code for _, _, name, code in _readme_snippets() if name == "howto_two_phase"]
    assert _keeps_a_failed_business_step_failed(readme)
    (installation,) = [
        block.body
        for block in code_blocks((DOCS / "installation.md").read_text(encoding="utf-8"))
        if block.info == "python"
    ]
    assert _keeps_a_failed_business_step_failed(installation)
    # The check is not vacuous: the pattern that ended such runs green fails it.
    assert not _keeps_a_failed_business_step_failed(
        "business >> commit\n[business, commit] >> rollback\n"
    )


def test_the_readme_is_a_front_page() -> None:
    """About 150 lines, never more than 200: the reference lives in docs/."""
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_the_readme_first_screen_keeps_the_two_commands() -> None:
    first_screen = "\n".join(README.read_text(encoding="utf-8").split("\n")[:25])
    commands = [b.body for b in code_blocks(first_screen) if b.info == "bash"]
    assert commands == ["scripts/demo.sh", "scripts/test.sh"]
    for command in commands:
        assert (REPO / command).is_file()


def _includes() -> list[tuple[Path, int, Path, dict[str, str]]]:
    """(page, line, included file, options) of every ``literalinclude`` in docs/."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for block in code_blocks(page.read_text(encoding="utf-8")):
            directive = re.fullmatch(r"\{literalinclude\}\s+(\S+)", block.info)
            if directive is None:
                continue
            options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", block.body, re.M))
            found.append((page, block.line, (DOCS / directive.group(1)).resolve(), options))
    return found


def test_docs_includes_name_marked_regions_of_files_that_tests_run() -> None:
    includes = _includes()
    assert len(includes) >= 10
    for page, line, path, options in includes:
        where = f"{page.name}:{line}"
        assert path.is_file(), f"{where}: {path} does not exist"
        if path.suffix == ".json":  # the sandbox's seed, loaded by every sandbox test
            json.loads(path.read_text(encoding="utf-8"))
            continue
        start = re.fullmatch(r'"# \[START (\w+)\]"', options.get("start-after", ""))
        end = re.fullmatch(r'"# \[END (\w+)\]"', options.get("end-before", ""))
        assert start and end and start.group(1) == end.group(1), f"{where}: not a marked region"
        code = region(path, start.group(1))
        ast.parse(code)  # a region is whole statements
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith("dags_examples/"):
            assert _tests_naming(path.stem), f"{where}: no test runs {relative}"
        else:
            assert relative == "tests/docs/snippets.py", f"{where}: {relative} is run by no test"


def test_docs_show_no_hand_copied_python() -> None:
    for page in markdown_files():
        if page.parent != DOCS or page.name in FOREIGN_PAGES | INLINE_PYTHON_PAGES:
            continue
        blocks = code_blocks(page.read_text(encoding="utf-8"))
        inline = [block.line for block in blocks if block.info == "python"]
        assert not inline, f"docs/{page.name}: Python blocks at lines {inline} are hand-copied"


def test_hook_snippet(sandbox: object) -> None:
    balance = snippets.hook_balance()
    region_text = region(REPO / "tests/docs/snippets.py", "howto_hook_balance")
    (shown,) = re.findall(r"^# (Balance\(.*\))$", region_text, re.M)
    assert repr(balance) == shown


def test_sandbox_python_api_snippet(capsys: pytest.CaptureFixture[str]) -> None:
    snippets.sandbox_python_api()
    url_line, balance_line = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+ t", url_line)
    assert balance_line == "500.00"


def test_profile_snippet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = {
        "format": "altcraft-probe-profile/1",
        "facts": {"duplicate_eid": {"known": True, "value": "refuse"}},
    }
    (tmp_path / "altcraft-profile.json").write_text(json.dumps(profile))
    monkeypatch.chdir(tmp_path)
    snippets.profile_in_sandbox()
    replayed, unplayable = capsys.readouterr().out.splitlines()
    assert replayed == "refuse"
    assert unplayable == "[]"
