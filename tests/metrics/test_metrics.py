"""The metric declaration (airflow_provider_altcraft/metrics.py) against the code that sends
metrics, the personal-data rule and docs/metrics.md; the send functions' refusals.

The calls are found by reading the package's source (``ast``), so a metric sent anywhere in
the package, by any helper, is checked against the one table.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_altcraft import metrics
from airflow_provider_altcraft.metrics import METRICS, TAGS, UnknownMetricError, check_metric
from tests.conftest import REPO

PACKAGE = REPO / "airflow_provider_altcraft"
SEND_FUNCTIONS = {"incr": "counter", "gauge": "gauge", "timing": "timer"}
#: What a metric name of the package looks like, wherever it is written.
NAME_LITERAL = re.compile(r"^(request|points|transaction|batch)\.[a-z_.]+$")
#: Words that would mean a metric or tag carries something about a person or a secret.
PERSONAL_WORDS = ("email", "e_mail", "phone", "profile", "member", "eid", "token", "user", "id")


@dataclass(frozen=True)
class Send:
    path: Path
    line: int
    function: str
    name: str | None  # None: not a string literal
    tags: tuple[str, ...] | None  # the keys of a literal dict, else None
    f_string: bool


def sends(tree: ast.AST, path: Path) -> Iterator[Send]:
    """The metric calls of one module: ``metrics.incr(...)`` or a name imported from
    airflow_provider_altcraft.metrics."""
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "airflow_provider_altcraft.metrics"
        for alias in node.names
        if alias.name in SEND_FUNCTIONS
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "metrics"
            and func.attr in SEND_FUNCTIONS
        ):
            function = func.attr
        elif isinstance(func, ast.Name) and func.id in imported:
            function = func.id
        else:
            continue
        first = node.args[0]
        tags = next((kw.value for kw in node.keywords if kw.arg == "tags"), None)
        tag_keys = None
        if isinstance(tags, ast.Dict):
            keys = [k.value if isinstance(k, ast.Constant) else None for k in tags.keys]
            if all(isinstance(key, str) for key in keys):
                tag_keys = tuple(str(key) for key in keys)
        yield Send(
            path=path,
            line=node.lineno,
            function=function,
            name=str(first.value) if isinstance(first, ast.Constant) else None,
            tags=tag_keys,
            f_string=isinstance(first, ast.JoinedStr),
        )


def package_modules() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "metrics.py" or path.parent != PACKAGE:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def name_literals(tree: ast.AST) -> set[str]:
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and NAME_LITERAL.match(node.value)
    }


def test_every_metric_sent_is_declared_with_its_type_and_tags() -> None:
    declared = {metric.name: metric for metric in METRICS}
    found = [send for path, tree in package_modules() for send in sends(tree, path)]
    assert len(found) >= 8  # the hook's and the operators' calls at least
    for send in found:
        where = f"{send.path.relative_to(REPO)}:{send.line}"
        assert not send.f_string, f"{where}: a metric name built at run time cannot be checked"
        if send.name is not None:
            check_metric(send.name, SEND_FUNCTIONS[send.function])  # type: ignore[arg-type]
            if send.tags is not None:
                assert set(send.tags) <= set(declared[send.name].tags), where
    # Names passed through a variable are written as literals elsewhere (tables such as
    # operators.loyalty._POINTS_METRICS): each is declared.
    for path, tree in package_modules():
        for literal in name_literals(tree):
            assert literal in declared, f"{path.relative_to(REPO)}: {literal!r} is not declared"


def test_every_declared_metric_is_sent_somewhere() -> None:
    written = set().union(*(name_literals(tree) for _, tree in package_modules()))
    assert {metric.name for metric in METRICS} - written == set()


def test_names_and_tags_carry_no_personal_data() -> None:
    for metric in METRICS:
        assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", metric.name), metric.name
        assert metric.full_name == f"altcraft.{metric.name}"
        assert set(metric.tags) <= set(TAGS), metric.name
    for key in TAGS:
        words = key.split("_")
        assert not [word for word in words if word in PERSONAL_WORDS], key
        # OpenTelemetry's limit on Airflow 2.11 (63 characters), with the default prefix.
        assert len(f"airflow.{metric.full_name}") <= 63, metric.name
    text = metrics.render_metrics_table()
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", text)  # no e-mail, not even as an example


def test_an_undeclared_metric_is_refused_loudly_by_the_check() -> None:
    with pytest.raises(UnknownMetricError, match=re.escape("'points.redeemd' is not declared")):
        check_metric("points.redeemd", "counter")
    with pytest.raises(UnknownMetricError, match="is a counter, not a gauge"):
        check_metric("points.redeemed", "gauge")
    with pytest.raises(UnknownMetricError, match=r"tag\(s\) \['email'\]"):
        check_metric("points.redeemed", "counter", {"email": "x"})
    assert (
        check_metric("request.duration", "timer", {"endpoint": "e"}) == "altcraft.request.duration"
    )


def test_sending_an_undeclared_metric_warns_once_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=metrics.__name__):
        for _ in range(3):
            metrics.incr("nothing.declared")
            metrics.gauge("points.redeemed", 1)  # a counter sent as a gauge
            metrics.timing("request.duration", 0.1, tags={"member": "p-1"})
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 3, warnings
    assert any("'nothing.declared' is not declared" in text for text in warnings)
    assert not [text for text in warnings if "p-1" in text]  # tag values are not logged


class _FailingStats:
    """A metrics backend that fails on every call (a broken client, an unreachable agent).
    Stand-in for Airflow's Stats: a real backend that raises on send cannot be configured."""

    @staticmethod
    def _fail(*args: object, **kwargs: object) -> None:
        raise OSError("the metrics backend is down")

    incr = gauge = timing = _fail


def test_a_failing_backend_never_fails_the_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(metrics, "Stats", _FailingStats)
    with caplog.at_level(logging.DEBUG, logger=metrics.__name__):
        metrics.incr("points.redeemed", tags={"outcome": "sent"})
        metrics.gauge("points.amount_redeemed", 1)
        metrics.timing("request.duration", 0.01, tags={"endpoint": "e", "outcome": "ok"})
    failures = [r for r in caplog.records if r.exc_info]
    assert [r.levelno for r in failures] == [logging.DEBUG] * 3


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_metrics_docs", REPO / "scripts" / "gen_metrics_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_page_is_generated_from_the_declaration() -> None:
    page = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert page == load_generator().render(page), "run: python scripts/gen_metrics_docs.py"
    for metric in METRICS:
        assert f"| `altcraft.{metric.name}` |" in page
