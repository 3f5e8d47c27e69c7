"""The unanswered inbox: questions logged with a hashed sender, listed and triaged by status."""

from __future__ import annotations

from pathlib import Path

from desk.privacy import hash_sender
from desk.unanswered import UnansweredInbox


def test_unanswered_questions_are_logged_with_hashed_sender(tmp_path: Path) -> None:
    inbox = UnansweredInbox(f"sqlite:///{tmp_path / 'catalogue.db'}")
    sender = "tg:987654321"
    qid = inbox.log("Xin giấy phép nuôi rồng", channel="telegram", sender_id=sender, best_code="1.1", best_score=0.2)
    assert qid > 0
    (row,) = inbox.questions()
    assert row.text == "Xin giấy phép nuôi rồng" and row.folded_text == "xin giay phep nuoi rong"
    assert row.channel == "telegram" and row.sender_hash == hash_sender(sender) and "987654321" not in row.sender_hash
    assert row.best_code == "1.1" and row.status == "new"
    assert inbox.set_status(qid, "resolved")
    assert inbox.questions() == [] and len(inbox.questions(status=None)) == 1


def test_inbox_survives_reopening_and_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'catalogue.db'}"
    first = UnansweredInbox(url)
    first.log("a")
    first.set_status(first.log("b"), "dismissed")
    again = UnansweredInbox(url)
    assert again.count() == 2 and again.count("new") == 1 and not again.set_status(999, "linked")
