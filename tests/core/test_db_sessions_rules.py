"""The rules that pick, among the database's sessions, those a deploy would wait on (NPR-7), over generated sessions.

The sessions themselves come from a real PostgreSQL in tests/probes/test_db_sessions.py; here Hypothesis writes
any mix of sessions (gonogo's own, other databases', hidden ones, idle, active, locks granted or waited for) and
the rules must hold for every one of them.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gonogo.probes.db_sessions import Lock, SessionRow, SessionsFact

STATES = ["active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", None]
TABLES = ["shop_sale", "shop_product", "audit_log"]
SCHEMAS = ["public", "audit"]
ages = st.one_of(st.none(), st.floats(min_value=0, max_value=1e5, allow_nan=False))
locks = st.builds(Lock, mode=st.sampled_from(["AccessShareLock", "RowExclusiveLock", "AccessExclusiveLock"]),
                  granted=st.booleans(), schema=st.sampled_from(SCHEMAS), table=st.sampled_from(TABLES))


@st.composite
def session_rows(draw: st.DrawFn) -> SessionRow:
    state = draw(st.sampled_from(STATES))
    return SessionRow(pid=draw(st.integers(1, 10**6)), user=draw(st.sampled_from(["app", "report", None])),
                      application=draw(st.sampled_from(["gonogo", "web", "", None])),
                      database=draw(st.sampled_from(["shop", "other"])), state=state,
                      transaction_age_s=draw(ages), query_age_s=draw(ages), state_age_s=draw(ages),
                      wait_event_type=None, query=None if state is None else "SELECT 1",
                      own=draw(st.booleans()), same_database=draw(st.booleans()),
                      locks=tuple(draw(st.lists(locks, max_size=4))))


facts = st.builds(SessionsFact, target=st.just("ro@db:5432/shop"), elapsed_ms=st.just(1.0),
                  sessions=st.lists(session_rows(), max_size=12).map(tuple), max_connections=st.just(100),
                  reserved=st.just(3))
thresholds = st.floats(min_value=0, max_value=1e5, allow_nan=False)
table_lists = st.lists(st.sampled_from([*TABLES, "public.shop_sale", "audit.audit_log"]), max_size=3, unique=True)
schema_lists = st.lists(st.sampled_from(SCHEMAS), max_size=2, unique=True)


@given(facts, thresholds, table_lists, schema_lists)
def test_only_visible_other_sessions_of_the_database_are_ever_found(fact: SessionsFact, max_s: float,
                                                                     tables: list[str], schemas: list[str]) -> None:
    """gonogo's own sessions, other databases' and hidden ones are never reported as holders; hidden ones are
    reported as hidden."""
    found = fact.idle_in_transaction(max_s) + fact.long_queries(max_s) + fact.locks_held(max_s, tables, schemas)
    for session in found:
        assert session.same_database and not session.own and not session.hidden, session
    assert fact.hidden() == [s for s in fact.sessions if s.same_database and not s.own and s.state is None]


@given(facts, thresholds, thresholds, table_lists, schema_lists)
def test_a_higher_threshold_never_finds_more(fact: SessionsFact, a: float, b: float, tables: list[str],
                                             schemas: list[str]) -> None:
    low, high = min(a, b), max(a, b)
    assert set(map(id, fact.idle_in_transaction(high))) <= set(map(id, fact.idle_in_transaction(low)))
    assert set(map(id, fact.long_queries(high))) <= set(map(id, fact.long_queries(low)))
    assert set(map(id, fact.locks_held(high, tables, schemas))) <= set(map(id, fact.locks_held(low, tables, schemas)))


@given(facts, thresholds, table_lists, schema_lists)
def test_a_lock_is_found_only_granted_on_a_watched_table_in_an_old_enough_transaction(
        fact: SessionsFact, max_s: float, tables: list[str], schemas: list[str]) -> None:
    for session in fact.locks_held(max_s, tables, schemas):
        assert (session.transaction_age_s or 0) > max_s, session
        watched = [lock for lock in session.locks if lock.granted and (
            (lock.table in tables or lock.qualified in tables) if tables else (lock.schema in schemas or not schemas))]
        assert watched, session
    # and every such session the role sees is found
    for session in fact.visible():
        if (session.transaction_age_s or 0) > max_s and any(
                lock.granted and ((lock.table in tables or lock.qualified in tables) if tables
                                  else (not schemas or lock.schema in schemas)) for lock in session.locks):
            assert session in fact.locks_held(max_s, tables, schemas), session


@given(facts, thresholds)
def test_idle_and_long_are_the_states_they_name(fact: SessionsFact, max_s: float) -> None:
    for session in fact.idle_in_transaction(max_s):
        assert (session.state or "").startswith("idle in transaction") and (session.state_age_s or 0) > max_s
    for session in fact.long_queries(max_s):
        assert session.state == "active" and (session.query_age_s or 0) > max_s


@given(facts)
def test_the_evidence_lists_every_other_session_and_counts_the_connections(fact: SessionsFact) -> None:
    evidence = fact.evidence()
    assert f"{fact.in_use} connection(s) in use of 97 (100 minus 3 reserved)" in evidence
    for session in fact.others()[:40]:
        assert f"pid {session.pid}: " in evidence
