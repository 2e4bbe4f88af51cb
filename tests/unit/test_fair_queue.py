"""The fair queue: runs are taken round-robin by owner (the teacher's first in each round),
then oldest first, so one student's long study does not hold back everyone's first run;
``queue_position`` reads the same order; seed groups are still claimed together."""

from __future__ import annotations

import threading

from mtae_core.store.access import CLI, Actor, owner_text
from mtae_core.store.fair import Unit, fair_order

TEACHER = Actor("teacher", "t", "Ms Rivera")
A = Actor("student", "a", "Ada")
B = Actor("student", "b", "Ben")
C = Actor("student", "c", "Cy")


def _claims(store, n: int) -> list[list[int]]:
    out = []
    for _ in range(n):
        runs = store.claim_group(worker_pid=4242)
        if not runs:
            break
        out.append([r.id for r in runs])
    return out


def test_one_students_study_does_not_hold_back_the_others(store, tiny_cfg):
    # Ada's 10-run study is queued first (through the engine, as Ada), then Ben's one run,
    # then the teacher's
    study = store.create_runs([tiny_cfg] * 10, owner=owner_text(A), actor=CLI)
    ben = store.create_run(tiny_cfg, actor=B)
    teacher = store.create_run(tiny_cfg, owner=owner_text(TEACHER), actor=TEACHER)
    expected = [teacher, study[0], ben, *study[1:]]
    assert store.queue_order() == expected
    assert [store.queue_position(i)[0] for i in expected] == list(range(1, 13))
    claimed = [ids[0] for ids in _claims(store, 20)]
    assert claimed == expected  # (oldest first alone: Ben 11th, the teacher 12th)
    students = [i for i in claimed if i != teacher]
    assert students.index(ben) + 1 in (1, 2)


def test_the_turn_counts_what_an_owner_already_has_training(store, tiny_cfg):
    ada = store.create_runs([tiny_cfg] * 4, owner=owner_text(A))
    assert [r.id for r in store.claim_group(1)] == [ada[0]]
    assert [r.id for r in store.claim_group(2)] == [ada[1]]  # Ada alone: she goes on
    ben = store.create_run(tiny_cfg, actor=B)
    cy = store.create_run(tiny_cfg, actor=C)
    # Ada has two training: Ben's and Cy's first runs go before her third
    assert store.queue_order() == [ben, cy, ada[2], ada[3]]
    assert store.queue_position(ada[2])[0] == 3
    assert store.queue_position(ada[0]) == (0, None)  # not queued


def test_a_seed_group_is_one_turn_and_is_claimed_whole(store, tiny_cfg):
    cfgs = [tiny_cfg.replace(seed=s) for s in range(3)]
    group = store.create_runs(cfgs, owner=owner_text(A), groups=["g1"] * 3)
    more = store.create_runs(cfgs, owner=owner_text(A), groups=["g2"] * 3)
    ben = store.create_run(tiny_cfg, actor=B)
    claims = _claims(store, 10)
    assert claims == [group, [ben], more]
    # a limit still caps what one claim takes
    again = store.create_runs(cfgs, owner=owner_text(A), groups=["g3"] * 3)
    assert [r.id for r in store.claim_group(7, limit=2)] == again[:2]


def test_other_backends_runs_and_among(store, tiny_cfg):
    ray = store.create_runs([tiny_cfg], owner=owner_text(B), backend="ray")
    ada = store.create_runs([tiny_cfg] * 3, owner=owner_text(A))
    ben = store.create_run(tiny_cfg, actor=B)
    assert ray[0] not in store.queue_order()
    assert [r.id for r in store.claim_group(1, among=[ada[1], ada[2]])] == [ada[1]]
    assert [r.id for r in store.claim_group(1)] == [ben]


def test_queue_position_estimates_from_recent_runs(store, tiny_cfg):
    done = store.create_run(tiny_cfg)
    store.claim_group(1)
    store.finish(done, "done", seconds=1.0)
    with store._tx() as c:  # a run that took 10 s
        c.execute("UPDATE runs SET started=finished-10 WHERE id=?", (done,))
    queued = store.create_runs([tiny_cfg] * 3, owner=owner_text(A))
    assert store.queue_position(queued[2], workers=1) == (3, 30.0)
    assert store.queue_position(queued[2], workers=2) == (3, 20.0)


def test_concurrent_claims_take_each_run_once(store, tiny_cfg):
    owners = [A, B, C, TEACHER]
    ids = [i for k in range(6) for i in store.create_runs([tiny_cfg] * 2,
                                                           owner=owner_text(owners[k % 4]))]
    got: list[int] = []
    lock = threading.Lock()

    def worker(pid: int) -> None:
        while runs := store.claim_group(pid):
            with lock:
                got.extend(r.id for r in runs)

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(ids)


def test_fair_order_by_hand():
    def u(i: int, who: str, teacher: bool = False) -> Unit:
        return Unit((i,), who, teacher)

    queued = [u(1, "a"), u(2, "a"), u(3, "a"), u(4, "b"), u(5, "t", True), u(6, "t", True)]
    assert [x.first for x in fair_order(queued)] == [5, 1, 4, 6, 2, 3]
    assert [x.first for x in fair_order(queued, {"a": 2})] == [5, 4, 6, 1, 2, 3]


def test_on_a_class_server_claims_are_short_and_alike_runs_train_together(store, tiny_cfg,
                                                                          monkeypatch):
    from mtae_core.runner.jobs import CLASS_BATCH, claim, execute_group

    d = Actor("student", "d", "Dee")
    study = store.create_runs([tiny_cfg.replace(seed=s) for s in range(12)],
                              owner=owner_text(A), groups=["g"] * 12)
    ben, cy, dee = (store.create_run(tiny_cfg, actor=who) for who in (B, C, d))
    ben2 = store.create_run(tiny_cfg, actor=B)  # Ben's second run waits for his next turn
    other = store.create_run(tiny_cfg.replace(training={"epochs": 3}), actor=d)
    monkeypatch.delenv("MTAE_TEACHER_KEY", raising=False)
    assert [r.id for r in claim(store, 1)] == study  # (one user: the whole group at once)
    with store._tx() as c:
        c.execute("UPDATE runs SET status='queued', worker_pid=NULL, started=NULL")
    monkeypatch.setenv("MTAE_TEACHER_KEY", "k")
    monkeypatch.setenv("MTAE_WORKERS", "8")  # (one student may hold 7 of them)
    assert [r.id for r in claim(store, 1)] == study[:CLASS_BATCH]  # a short turn
    batch = claim(store, 2)  # Ben's run takes Cy's and Dee's alike runs along
    assert [r.id for r in batch] == [ben, cy, dee]
    # everyone has had one turn: the second round, oldest first; Dee's other run is not
    # alike the others, so it trains alone
    assert [r.id for r in claim(store, 3)] == study[CLASS_BATCH:2 * CLASS_BATCH]
    assert [r.id for r in claim(store, 4)] == [ben2]
    assert [r.id for r in claim(store, 5)] == [other]
    assert [r.id for r in claim(store, 6)] == study[2 * CLASS_BATCH:3 * CLASS_BATCH]
    # the students' runs train as one batched model, each run its own
    execute_group(store, batch)
    runs = store.runs_by_id([ben, cy, dee])
    assert {r.status for r in runs.values()} == {"done"}
    assert all(r.first_epoch for r in runs.values())
    assert runs[ben].test_metrics == runs[cy].test_metrics  # the same setup and seed


def test_paused_claims_nothing_alike(store, tiny_cfg):
    ben, cy = store.create_run(tiny_cfg, actor=B), store.create_run(tiny_cfg, actor=C)
    [run] = store.claim_group(1)
    store.set_class_settings(TEACHER, paused=True)
    assert store.claim_alike(1, run.id, 7) == []
    store.set_class_settings(TEACHER, paused=False)
    assert store.claim_alike(1, run.id, 7) == [cy] and run.id == ben


def test_one_student_never_holds_every_worker_of_a_class(store, tiny_cfg, monkeypatch):
    from mtae_core.runner.jobs import CLASS_BATCH, claim

    monkeypatch.setenv("MTAE_TEACHER_KEY", "k")
    monkeypatch.setenv("MTAE_WORKERS", "2")
    study = store.create_runs([tiny_cfg.replace(seed=s) for s in range(12)],
                              owner=owner_text(A), groups=["g"] * 12)
    assert [r.id for r in claim(store, 1)] == study[:CLASS_BATCH]
    assert claim(store, 2) == []  # Ada trains on one worker: the other waits for the class
    ben = store.create_run(tiny_cfg, actor=B)
    assert [r.id for r in claim(store, 2)] == [ben]
    mine = store.create_runs([tiny_cfg.replace(seed=s) for s in range(2)],
                             owner=owner_text(TEACHER), groups=["t"] * 2)
    other = store.create_runs([tiny_cfg.replace(seed=s) for s in range(2)],
                              owner=owner_text(TEACHER), groups=["t2"] * 2)
    assert [r.id for r in claim(store, 3)] == mine
    assert [r.id for r in claim(store, 4)] == other  # the teacher's are never held back
    monkeypatch.delenv("MTAE_TEACHER_KEY")
    assert [r.id for r in claim(store, 5)] == study[CLASS_BATCH:]  # one person: every worker


def test_a_class_server_starts_every_worker_with_the_app(store, monkeypatch):
    from mtae_core.runner.jobs import JobRunner

    runner = JobRunner(store, n_workers=2)  # (not started: no process is spawned here)
    monkeypatch.delenv("MTAE_TEACHER_KEY", raising=False)
    assert runner._wanted() == 1  # one person: one warm worker, more when runs wait
    monkeypatch.setenv("MTAE_TEACHER_KEY", "k")
    assert runner._wanted() == 2


def test_an_owner_just_served_waits_for_those_not_served_yet(store, tiny_cfg):
    study = store.create_runs([tiny_cfg] * 3, owner=owner_text(A))
    assert [r.id for r in store.claim_group(1)] == [study[0]]
    ben = store.create_run(tiny_cfg, actor=B)
    store.finish(study[0], "done")  # Ada's turn ended: she has nothing training now
    # Ada's next run is older, but she had a turn and Ben has had none
    assert store.queue_order() == [ben, study[1], study[2]]


def test_fair_order_served_longest_ago_first():
    queued = [Unit((1,), "a", False), Unit((2,), "b", False), Unit((3,), "c", False)]
    assert [x.first for x in fair_order(queued, served={"a": 20.0, "b": 10.0})] == [3, 2, 1]
