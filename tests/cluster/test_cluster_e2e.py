"""The cluster end to end: scripts/run_cluster.sh with 2 replicas of everything.

Conversations stay whole across Rasa and action replicas; a published index reaches every action
replica within 5 s.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from dossier.adapters.sqlite import SqliteOnestop
from dossier.models import last_digits
from knowledge.index import IndexStore
from tests.cluster.harness import Cluster, http
from tests.cluster.services import missing_binaries

pytestmark = pytest.mark.cluster
DEMO_CODE = "000.00.20.H57-240101-0001"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The running cluster (skipped with the reason when its Debian packages are missing)."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"Debian packages missing: {', '.join(missing)} (requirements/apt.txt; CI installs them)")
    running = Cluster(replicas=2)
    try:
        took = running.start()
        print(f"cluster up in {took:.0f} s")
        yield running
    finally:
        running.stop()


def say(cluster: Cluster, replica: int, sender: str, text: str) -> str:
    """Send one message to Rasa replica ``replica`` (REST channel); the bot's texts joined."""
    replies = http(f"{cluster.url('rasa', replica)}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return " ".join(str(m.get("text", "")) for m in replies)


def test_dossier_lookup_spans_both_rasa_replicas(cluster: Cluster) -> None:
    """Code on replica 0, the 4 digits on replica 1: the second replica knows which dossier was asked."""
    sender = f"web:cl-{uuid.uuid4().hex[:8]}"
    dossier = SqliteOnestop(cluster.data / "onestop.db").get_sync(DEMO_CODE)
    assert dossier is not None
    assert "4 số cuối" in say(cluster, 0, sender, f"tra cuu ho so {DEMO_CODE}")
    answer = say(cluster, 1, sender, last_digits(dossier.applicant_phone)[-4:])
    assert DEMO_CODE in answer and "4 số cuối" not in answer
    tracker = http(f"{cluster.url('rasa', 0)}/conversations/{sender}/tracker?token={cluster.token}")
    assert next(e["text"] for e in tracker["events"] if e["event"] == "user").startswith("tra cuu ho so")


def test_procedure_follow_up_spans_both_rasa_replicas(cluster: Cluster) -> None:
    """A question on replica 1 and its follow-up ("and the fee?") on replica 0 stay about one procedure."""
    sender = f"web:cl-{uuid.uuid4().hex[:8]}"
    assert "1.001193" in say(cluster, 1, sender, "lam giay khai sinh can gi")
    assert "1.001193" in say(cluster, 0, sender, "còn lệ phí thì sao")


def test_the_front_door_balances_gateways_and_both_answer(cluster: Cluster) -> None:
    """The nginx front answers for the gateways, and each gateway replica is healthy on its own port."""
    assert http(f"{cluster.url('front')}/health")["status"] == "ok"
    for i in range(cluster.replicas):
        assert http(f"{cluster.url('gateway', i)}/health")["status"] == "ok"


def test_published_index_reaches_every_action_replica_within_5_s(cluster: Cluster) -> None:
    """A new version published to the shared folder is served by both replicas within 5 s, while they answer."""
    store = IndexStore(cluster.data / "index")
    before = [http(f"{cluster.url('actions', i)}/health/index")["version"] for i in range(cluster.replicas)]
    assert before == [store.current_name()] * cluster.replicas
    stop, failures, answered = threading.Event(), [], [0]

    def ask() -> None:
        sender = f"web:ix-{uuid.uuid4().hex[:8]}"
        while not stop.is_set():
            try:
                text = say(cluster, answered[0] % 2, sender, "lam giay khai sinh can gi")
                if "1.001193" not in text:
                    failures.append(text)
                answered[0] += 1
            except Exception as exc:
                failures.append(repr(exc))

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        published = store.publish(store.load_current()).name
        t0 = time.monotonic()
        served: dict[int, float] = {}
        while len(served) < cluster.replicas and time.monotonic() - t0 < 10:
            for i in range(cluster.replicas):
                if i not in served and http(f"{cluster.url('actions', i)}/health/index")["version"] == published:
                    served[i] = time.monotonic() - t0
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        asker.join(60)
    assert published not in before and len(served) == cluster.replicas, served
    assert max(served.values()) < 5.0, served
    assert failures == [] and answered[0] > 0
