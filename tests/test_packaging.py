"""What ``pip install signpipe`` brings, without the test extras."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement


def _runtime_requirements() -> list[Requirement]:
    parsed = [Requirement(line) for line in requires("signpipe") or []]
    return [r for r in parsed if r.marker is None or r.marker.evaluate({"extra": ""})]


def test_celery_comes_with_its_redis_transport() -> None:
    # kombu's Redis transport imports packages that only celery's "redis" extra
    # installs; the test extras bring them too, so only the metadata shows a gap.
    celery = [r for r in _runtime_requirements() if r.name == "celery"]
    assert celery, "celery is not a dependency"
    assert "redis" in celery[0].extras


def test_test_tools_are_not_runtime_dependencies() -> None:
    names = {r.name.lower() for r in _runtime_requirements()}
    assert not names & {"pytest", "pytest-qt", "ruff", "pyinstaller"}
