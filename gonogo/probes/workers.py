"""Workers probe: Redis (the broker), the Celery workers that consume it, and the beat that schedules
their tasks (``[workers]``: :mod:`gonogo.sections.workers`).

``stack.workers`` is a :class:`WorkersProbe`. From the gate's machine, with the broker URL of the
profile and nothing of the application's code:

- :meth:`WorkersProbe.redis`: ``PING`` and ``INFO`` (role, memory, clients, persistence) with redis-py,
  the only two commands it sends, each bounded by ``timeout_s`` and never retried;
- :meth:`WorkersProbe.workers`: Celery's own remote control (``control.ping`` and
  ``inspect.active_queues``, as ``celery inspect ping`` does) through the broker: which workers
  answer, and which queues each consumes;
- :meth:`WorkersProbe.beat`: a command in the beat's container (through ``stack.commands``) that
  prints the running beat's state as JSON: the tasks it schedules and how long ago it last ticked.

Facts only: a broker that refuses, hangs or is absent is a fact with an ``error``, never an exception.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gonogo import lazy
from gonogo.fact import Observed, Stopwatch, no_answer
from gonogo.probes.commands import CommandFact, CommandProbe
from gonogo.secrets import masker
from gonogo.sections.workers import WorkersSection

if TYPE_CHECKING:
    import celery
    import redis
    from redis import backoff as redis_backoff
    from redis import retry as redis_retry

    from gonogo.stack import Stack
else:  # redis-py and Celery are imported when a probe first uses them
    celery = lazy.module("celery")
    redis = lazy.module("redis")
    redis_backoff = lazy.module("redis.backoff")
    redis_retry = lazy.module("redis.retry")

#: the INFO fields a Redis fact keeps (state a release manager reads: role, memory, clients, persistence)
INFO_KEYS = ("redis_version", "role", "uptime_in_seconds", "connected_clients", "blocked_clients",
             "used_memory_human", "maxmemory_human", "maxmemory_policy", "rdb_last_bgsave_status",
             "rdb_changes_since_last_save", "aof_enabled", "aof_last_write_status", "master_link_status")


def display_url(url: str) -> str:
    """The URL without its credentials (``redis://127.0.0.1:6379/0``): the password never shows."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path or ''}"


class RedisFact(Observed):
    """What Redis said to PING and INFO (or why it said nothing)."""

    EVIDENCE_NAME = "redis {url}"

    url: str
    answered: bool
    elapsed_ms: float
    pong: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def status_text(self) -> str:
        if not self.answered:
            return masker.mask(no_answer(self.elapsed_ms, self.error))
        state = ", ".join(f"{k} {self.info[k]}" for k in ("role", "used_memory_human", "connected_clients")
                          if k in self.info)
        return f"PONG ({state})" if self.pong else f"no PONG: {self.error}"

    def evidence(self) -> str:
        lines = [f"redis {self.url}", f"PING: {'PONG' if self.pong else 'no answer'}",
                 f"elapsed: {self.elapsed_ms:.1f} ms"]
        if self.error:
            lines.append(f"error: {self.error}")
        lines += [f"{k}: {v}" for k, v in self.info.items()]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<redis {self.url}: {self.status_text}>"


class WorkersFact(Observed):
    """Which Celery workers answered a ping through the broker, and the queues each consumes."""

    EVIDENCE_NAME = "celery workers via {broker}"

    broker: str
    answered: bool
    elapsed_ms: float
    #: node name -> its ping reply ({"ok": "pong"})
    replies: dict[str, Any] = field(default_factory=dict)
    #: node name -> the names of the queues it consumes
    queues: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    @property
    def nodes(self) -> list[str]:
        return sorted(self.replies)

    @property
    def consumed(self) -> set[str]:
        """Every queue some answering worker consumes."""
        return {q for names in self.queues.values() for q in names}

    @property
    def status_text(self) -> str:
        if not self.answered:
            return masker.mask(no_answer(self.elapsed_ms, self.error, "the broker did not answer"))
        if not self.replies:
            return f"no worker answered a ping within {self.elapsed_ms:.0f} ms"
        return ", ".join(f"{n} ({', '.join(self.queues.get(n, [])) or 'no queue'})" for n in self.nodes)

    def evidence(self) -> str:
        lines = [f"broker: {self.broker}", f"elapsed: {self.elapsed_ms:.1f} ms"]
        if self.error:
            lines.append(f"error: {self.error}")
        lines += [f"ping {node}: {json.dumps(self.replies[node])}; queues: {', '.join(self.queues.get(node, []))}"
                  for node in self.nodes] or ["no worker answered"]
        return masker.mask("\n".join(lines))

    def one_line(self) -> str:
        return f"<celery workers via {self.broker}: {self.status_text}>"


class BeatFact(Observed):
    """The running beat's state, as its status command printed it."""

    command: CommandFact
    tasks: tuple[str, ...] = ()
    tick_age_s: float | None = None
    #: why there is no state: the command failed, or its output is not the expected JSON
    error: str | None = None

    @property
    def status_text(self) -> str:
        if self.error:
            return masker.mask(self.error)
        return f"last tick {self.tick_age_s:.1f} s ago, scheduling {', '.join(self.tasks) or 'nothing'}"

    def evidence_title(self) -> str:
        return self.command.evidence_title()

    def evidence(self) -> str:
        return self.command.evidence()

    def one_line(self) -> str:
        return f"<beat on {self.command.where}: {self.status_text}>"


class WorkersProbe:
    """The broker, the workers and the beat of ``[workers]`` (``stack.workers``)."""

    def __init__(self, section: WorkersSection, commands: CommandProbe) -> None:
        self.section = section
        self.commands = commands

    def __repr__(self) -> str:
        return f"<workers probe {self.url}>"

    @property
    def url(self) -> str:
        """The broker URL without credentials."""
        return display_url(self.section.redis_url.get_secret_value())

    def redis(self) -> RedisFact:
        """PING, then INFO: whether Redis answers and its state; never raises."""
        timeout = self.section.timeout_s
        watch = Stopwatch()
        client = redis.Redis.from_url(self.section.redis_url.get_secret_value(), socket_timeout=timeout,
                                      socket_connect_timeout=timeout, retry=redis_retry.Retry(redis_backoff.NoBackoff(), 0),
                                      retry_on_timeout=False, decode_responses=True)
        try:
            pong = bool(client.ping())
            info = client.info()
        except Exception as exc:  # refused, timed out, auth, not Redis: a fact
            return RedisFact(self.url, False, watch.ms(), error=_error(exc))
        finally:
            client.close()
        kept = {k: info[k] for k in INFO_KEYS if k in info}
        return RedisFact(self.url, True, watch.ms(), pong=pong, info=kept)

    def workers(self) -> WorkersFact:
        """Ping every worker through the broker and ask each for its queues; never raises.

        A hard deadline (a few times ``timeout_s``) bounds the whole exchange, whatever kombu's own
        reconnection logic does with a broker that hangs.
        """
        watch = Stopwatch()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gonogo-celery")
        future = pool.submit(self._control)
        try:
            replies, queues = future.result(timeout=self.section.timeout_s * 3 + 5)
        except FutureTimeout:
            return WorkersFact(self.url, False, watch.ms(), error=f"no answer within {self.section.timeout_s * 3 + 5:.0f} s")
        except Exception as exc:  # refused, timed out, auth: a fact
            return WorkersFact(self.url, False, watch.ms(), error=_error(exc))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return WorkersFact(self.url, True, watch.ms(), replies=replies, queues=queues)

    def _control(self) -> tuple[dict[str, Any], dict[str, list[str]]]:
        timeout = self.section.timeout_s
        app = celery.Celery("gonogo", broker=self.section.redis_url.get_secret_value(), set_as_current=False)
        options = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0}
        app.conf.update(broker_connection_timeout=timeout, broker_connection_retry=False,
                        broker_connection_max_retries=0, broker_transport_options=options,
                        broker_channel_error_retry=False)
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0, timeout=timeout)
                replies: dict[str, Any] = {}
                # with the expected workers named, stop waiting as soon as they all answered
                limit = len(self.section.workers) or None
                for reply in app.control.ping(timeout=timeout, connection=connection, limit=limit) or []:
                    replies.update(reply)
                active: dict[str, Any] = {}
                if replies:
                    inspect = app.control.inspect(destination=sorted(replies), timeout=timeout, connection=connection,
                                                  limit=len(replies))
                    active = inspect.active_queues() or {}
        finally:
            app.close()
        queues = {node: sorted(q.get("name", "") for q in listed or []) for node, listed in active.items()}
        return replies, queues

    def beat(self) -> BeatFact:
        """Run ``[workers.beat]``'s command and read the running beat's state from its JSON."""
        beat = self.section.beat
        assert beat is not None, "the caller checks [workers.beat] is set"
        fact = self.commands.run(beat.entry())
        if not fact.finished or fact.exit_code != 0:
            return BeatFact(fact, error=f"`{fact.command}`: {fact.status_text}: {fact.last_words}")
        try:
            state = json.loads(fact.output)
            tasks = tuple(sorted(str(t) for t in state["tasks"]))
            age = float(state["tick_age_s"])
        except (ValueError, TypeError, KeyError) as exc:
            return BeatFact(fact, error=f"`{fact.command}` printed no beat state "
                                        f"(a JSON object with tasks and tick_age_s): {type(exc).__name__}: {exc}")
        return BeatFact(fact, tasks=tasks, tick_age_s=age)



def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return masker.mask(f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__)


def from_stack(stack: Stack) -> WorkersProbe:
    """``stack.workers``: Redis, the Celery workers and beat of ``[workers]``: the broker from this machine, the
    beat's status command through ``stack.commands``."""
    return WorkersProbe(stack.section("workers"), stack.commands)
