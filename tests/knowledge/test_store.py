"""Catalogue storage: transactions, versions, revision, retire."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from knowledge.schema import Procedure
from knowledge.store import Catalogue


def proc(code: str, title: str = "Đăng ký khai sinh", **kw: object) -> Procedure:
    return Procedure(code=code, title=title, **kw)  # type: ignore[arg-type]


def test_upsert_get_versions_and_revision(catalogue: Catalogue) -> None:
    assert catalogue.revision() == 0 and catalogue.count() == 0
    first = catalogue.upsert_many([proc("1.1"), proc("1.2", "Kết hôn")])
    assert first.added == ["1.1", "1.2"] and first.revision == 1
    again = catalogue.upsert_many([proc("1.1"), proc("1.2", "Kết hôn")])
    assert again.unchanged == ["1.1", "1.2"] and catalogue.revision() == 1  # no change, no bump
    edit = catalogue.upsert(proc("1.1", "Đăng ký khai sinh (sửa)"), source="admin")
    assert edit.updated == ["1.1"] and catalogue.revision() == 2
    assert catalogue.get("1.1").title == "Đăng ký khai sinh (sửa)"  # type: ignore[union-attr]
    history = catalogue.versions("1.1")
    assert [rev for rev, *_ in history] == [2, 1]
    assert history[0][1] is not None and history[0][1].title == "Đăng ký khai sinh"  # previous kept
    assert history[1][1] is None  # first write: nothing before it
    assert history[0][3] == "admin"


def test_upsert_many_is_one_transaction(catalogue: Catalogue) -> None:
    catalogue.upsert(proc("1.1"))

    def items() -> Iterator[Procedure]:
        yield proc("1.2")
        yield proc("1.1", "changed")
        raise RuntimeError("broken in the middle")

    with pytest.raises(RuntimeError):
        catalogue.upsert_many(items())
    assert catalogue.codes() == {"1.1"}
    assert catalogue.get("1.1").title == "Đăng ký khai sinh"  # type: ignore[union-attr]
    assert catalogue.revision() == 1 and len(catalogue.versions("1.1")) == 1


def test_retire_hides_from_listing(catalogue: Catalogue) -> None:
    catalogue.upsert_many([proc("1.1"), proc("1.2", "Kết hôn")])
    assert catalogue.retire("1.2") is True
    assert [p.code for p in catalogue.all()] == ["1.1"]
    assert catalogue.count() == 1 and catalogue.count(include_retired=True) == 2
    assert catalogue.get("1.2", include_retired=False) is None
    assert catalogue.retire("9.9") is False
    assert catalogue.retire("1.2", retired=False) and catalogue.count() == 2


def test_data_survives_reopening(catalogue: Catalogue) -> None:
    catalogue.upsert(proc("1.1"))
    other = Catalogue(catalogue.url)
    try:
        assert other.get("1.1") is not None and other.revision() == 1
    finally:
        other.close()
