"""The Ray executor: one named actor per session key, placed where its memory is free.

Each session key gets an actor (`session_actor.SessionActor`) named after the key's full digest
in the executor's namespace, created with `get_if_exists` (Ray's named actors: names are unique
per namespace, and `get_if_exists` returns the live one; docs.ray.io ray-core/actors/named-actors).
It asks for `num_cpus=0` explicitly, since passing `resources=` alone makes an actor hold a CPU
for its life (ray/actor.py; scaleout.md pitfall 4): warm sessions are bounded by memory, and
the `jobs` lanes bound how many run at once. Its memory is a custom resource, `lean_memory_mb`,
sized from the pool's per-session estimate (`SessionHistory.estimate`): Ray holds custom
resources for an actor's life and places it only on a node with that much free
(ray-core/scheduling/resources), so nodes declare what their Lean workers may take
(`ray start --resources='{"lean_memory_mb": 20000}'`).

Only actors this executor owns (it created them, or a daemon re-attached to them) are ever
stopped by it: another driver's actor for the same key (`check` using a daemon's warm session)
is used and, when lost or idle, only forgotten. An owned actor busy with another driver's batch
refuses to close, and is kept until it is idle.

A batch is one streaming generator call: answers come back as files finish. An actor or node
lost mid-batch (`RayActorError`, `NodeDiedError`, ...) leaves its unanswered files for one fresh
actor; lost again, they are answered `node-lost`. Nothing is retried by Ray itself
(`max_restarts=0`, `max_task_retries=0`: a restarted actor is a cold REPL, and a retried task
could answer a file twice; ray-core/fault_tolerance/actors). Idle actors are reaped after the
pool's idle TTL, and the least recently used idle one makes room when a new session would not
fit (never a prewarmed one not yet used: the look-ahead may hold `max_workers` + 1). A
daemon's actors are detached: restarted, it re-attaches to the live ones of its namespace and
cleans up those that do not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from ..plan.keys import SessionKey
from ..workers.failures import FailureKind, WorkerFailure
from ..workers.history import SessionHistory
from ..workers.pool import PoolConfig
from ..workers.shielding import cancel_and_wait
from .base import ExecutorChoice, ExecutorUnavailable, ItemAnswer, SessionBatch
from .ray_actors import (
    MEMORY_RESOURCE,
    PREFIX,
    HeldActor,
    actor_hard_mb,
    actor_name,
    generation_of,
    local_memory_mb,
    node_rows,
)
from .ray_join import join, raylet_errors_to_stderr
from .session_actor import SessionActor

DESCRIBE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0


class RayExecutor:
    batched = True

    def __init__(self, choice: ExecutorChoice, config: PoolConfig) -> None:
        self.choice = choice
        self.config = config
        self.history = SessionHistory(config.estimate_base_mb, config.estimate_per_module_mb)
        self.actors: dict[str, HeldActor] = {}
        """Live actors by the session key's full digest: this process keeps a handle to each (a
        non-detached named actor dies with its last handle; scaleout.md pitfall 5)."""
        self._generations: dict[str, int] = {}
        self._creating: dict[str, _KeyLock] = {}
        self._pending: dict[str, float] = {}
        """Actors being created, by full digest: the memory they asked for. They count against
        `max_workers` while Ray places them, so that two keys cannot both pass the check."""
        self._freed = asyncio.Event()
        """Set (then replaced) whenever an actor goes idle or away: a batch waiting for room."""
        self._starting: asyncio.Future[list[str]] | None = None
        self._started_ray = False
        self._connected = False
        self._remote: Any = None
        self._reaper: asyncio.Task[None] | None = None
        self._stops: set[asyncio.Task[None]] = set()
        """Actors stopping in the background."""
        self._prewarms: set[asyncio.Task[None]] = set()
        self._prewarming: set[str] = set()
        self.token = uuid.uuid4().hex
        """Names this executor as an actor's creator (see `HeldActor.owned`)."""
        self.notes: list[str] = []
        """What starting found (actors re-attached or cleaned up)."""
        self.retried = 0
        self.lost = 0

    # -- connecting ------------------------------------------------------------------

    def start(self) -> list[str]:
        """Join (or start) Ray, then re-attach to this namespace's live session actors."""
        if self._connected:
            return self.notes
        import ray

        if not ray.is_initialized():
            join(self.choice, local_memory_mb(self.config))
            self._started_ray = True
        self._remote = ray.remote(SessionActor)
        raylet_errors_to_stderr()
        self._connected = True
        if self.choice.detached:  # a daemon's: what a killed daemon left is its own
            self._attach()
        return self.notes

    def _attach(self) -> None:
        import ray
        from ray.exceptions import RayError

        ns = self.choice.namespace
        listed = ray.util.list_named_actors(all_namespaces=True)
        names = sorted(a["name"] for a in listed if a["namespace"] == ns and a["name"].startswith(PREFIX))
        for name in names:
            handle = None
            try:
                handle = ray.get_actor(name, namespace=ns)
                info = ray.get(handle.describe.remote(), timeout=DESCRIBE_TIMEOUT)
            except (RayError, ValueError, AttributeError) as e:  # AttributeError: not a session actor
                if handle is not None:
                    with contextlib.suppress(RayError, ValueError):
                        ray.kill(handle, no_restart=True)
                self.notes.append(f"cleaned up {name}: it did not answer ({type(e).__name__})")
                continue
            held = HeldActor(
                handle, name, info["key"], info["fullDigest"], generation_of(name), float(info["reservedMb"]),
                node=info["node"], host=info["host"], charged_mb=float(info["chargedMb"]), adopted=True,
            )  # fmt: skip
            older = self.actors.get(held.full_digest)
            if older is not None:  # two generations of one key: keep the newer
                keep, drop = (held, older) if held.generation > older.generation else (older, held)
                ray.kill(drop.handle, no_restart=True)
                self.notes.append(f"cleaned up {drop.name}: {keep.name} serves its session")
                held = keep
            self.actors[held.full_digest] = held
            self._generations[held.full_digest] = max(self._generations.get(held.full_digest, 0), held.generation)
        for held in self.actors.values():
            self.notes.append(f"re-attached to {held.name} (session {held.key_digest}) on {held.host}")

    async def _ready(self) -> None:
        if not self._connected:  # `ray.init` takes seconds: off the event loop, once
            if self._starting is None:
                self._starting = asyncio.ensure_future(asyncio.to_thread(self.start))
            await asyncio.shield(self._starting)
        if self._reaper is None and self.config.idle_ttl is not None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap(self.config.idle_ttl))

    # -- batches ---------------------------------------------------------------------

    async def run_batch(self, batch: SessionBatch) -> AsyncGenerator[ItemAnswer, None]:
        from ray.exceptions import RayError, RayTaskError

        await self._ready()
        remaining = list(range(len(batch.items)))
        cause = ""
        for attempt in range(2):
            held = await self._actor_for(batch)
            if isinstance(held, WorkerFailure):
                if attempt == 1:  # lost, and nowhere to retry: still a lost node, with the reason
                    held = WorkerFailure(
                        FailureKind.NODE_LOST,
                        f"the session's actor or its node was lost ({cause}), "
                        f"and no fresh actor started: {held.message}",
                        key_digest=batch.key.digest,
                    )
                for index in remaining:
                    yield ItemAnswer(index, held, None, 0.0)
                return
            sent = list(remaining)
            sub = replace(batch, items=tuple(batch.items[i] for i in sent))
            held.busy += 1
            held.reserved_until = 0.0
            stream = held.handle.run_batch.remote(sub)
            finished = lost = False
            try:
                async for ref in stream:
                    got: ItemAnswer = await ref
                    index = sent[got.index]
                    remaining.remove(index)
                    held.charged_mb = got.charged_mb
                    yield replace(got, index=index)
                finished = True
            except RayTaskError as e:  # the actor's code failed: a bug, not a lost node; no retry
                failure = WorkerFailure(
                    FailureKind.CRASH, f"the session's actor failed: {e}", key_digest=batch.key.digest
                )
                for index in list(remaining):
                    remaining.remove(index)
                    yield ItemAnswer(index, failure, None, 0.0)
                finished = True
            except RayError as e:
                lost = True
                cause = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
            finally:
                held.busy -= 1
                held.last_used = time.monotonic()
                self._room_freed()
                if not finished and not lost:  # cancelled, or the caller stopped reading
                    with contextlib.suppress(Exception):
                        import ray

                        ray.cancel(stream)
            if not lost:
                return
            self.lost += 1
            await self._evict(held, graceful=False)
            if attempt == 0:
                self.retried += len(remaining)
        failure = WorkerFailure(
            FailureKind.NODE_LOST,
            f"the session's actor or its node was lost, and again on a fresh actor ({cause})",
            key_digest=batch.key.digest,
        )
        for index in remaining:
            yield ItemAnswer(index, failure, None, 0.0)

    def prewarm(self, key: SessionKey, closure_size: int | None) -> None:
        """Create the session's actor and start its import in the background: `check` asks for the
        next session while the current ones run, so the actor's start and the import overlap them."""
        if key.full_digest in self.actors or key.full_digest in self._prewarming:
            return
        self._prewarming.add(key.full_digest)
        task = asyncio.get_running_loop().create_task(self._prewarm(SessionBatch(key, closure_size, ())))
        self._prewarms.add(task)
        task.add_done_callback(self._prewarms.discard)

    async def _prewarm(self, batch: SessionBatch) -> None:
        from ray.exceptions import RayError

        try:
            try:
                await self._ready()
            except ExecutorUnavailable:  # told by the batches that wait for Ray; a prewarm only hoped
                return
            held = await self._actor_for(batch, prewarm=True)
            if not isinstance(held, WorkerFailure):
                with contextlib.suppress(RayError):
                    await _awaitable(held.handle.prewarm.remote(batch.key, batch.closure_size))
        finally:
            self._prewarming.discard(batch.key.full_digest)

    async def _actor_for(self, batch: SessionBatch, prewarm: bool = False) -> HeldActor | WorkerFailure:
        full = batch.key.full_digest
        entry = self._creating.setdefault(full, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                held = self.actors.get(full)
                if held is not None:
                    return held
                return await self._create(batch, prewarm)
        finally:
            entry.users -= 1
            if entry.users == 0:  # no waiter: one lock per key ever seen would only grow
                del self._creating[full]

    async def _create(self, batch: SessionBatch, prewarm: bool) -> HeldActor | WorkerFailure:
        key = batch.key
        if batch.closure_size is not None:
            self.history.closure(key, batch.closure_size)
        need = round(self.history.estimate(key), 1)
        nodes = self._node_memory()
        largest = max(nodes.values(), default=0.0)
        if largest <= 0:
            return self._refused(
                key.digest,
                f"no live node of the cluster offers the {MEMORY_RESOURCE} resource "
                f"(start nodes with --resources='{{\"{MEMORY_RESOURCE}\": MB}}')",
            )
        if need > largest:
            return self._refused(
                key.digest,
                f"the session needs about {need:.0f} MB of {MEMORY_RESOURCE}; the largest node has {largest:.0f}",
            )
        refusal = await self._reserve_room(key, need, sum(nodes.values()), prewarm)
        if refusal is not None:
            return refusal
        try:
            return await self._place(key, need, prewarm)
        finally:
            del self._pending[key.full_digest]
            self._room_freed()

    async def _place(self, key: SessionKey, need: float, prewarm: bool) -> HeldActor | WorkerFailure:
        from ray.exceptions import RayError

        generation = self._generations.get(key.full_digest, -1) + 1
        self._generations[key.full_digest] = generation
        name = actor_name(key.full_digest, generation)
        memory = replace(self.config.memory, budget_mb=None, worker_hard_mb=actor_hard_mb(self.config, need))
        actor_config = replace(self.config, idle_ttl=None, memory=memory)
        theirs = self._exists(name)  # then `get_if_exists` hands back another driver's actor
        handle = self._remote.options(
            name=name,
            namespace=self.choice.namespace,
            get_if_exists=True,
            lifetime="detached" if self.choice.detached else None,
            num_cpus=0,
            resources={MEMORY_RESOURCE: need},
            max_restarts=0,
            max_task_retries=0,
            scheduling_strategy="SPREAD",
        ).remote(key.digest, key.full_digest, actor_config, need, self.token, self._abandon_after())
        held = HeldActor(handle, name, key.digest, key.full_digest, generation, need, owned=not theirs)
        waited = self.config.queue_timeout
        try:  # the actor answers once Ray has placed it: until then, it waits for memory
            async with asyncio.timeout(waited):
                info = await _awaitable(handle.describe.remote())
        except asyncio.CancelledError:  # nobody will hold its handle: a detached actor would live on
            await self._kill(held)
            raise
        except TimeoutError:
            await self._kill(held)
            return self._refused(
                key.digest,
                f"waited {waited:.0f} s for a node with {need:.0f} MB of {MEMORY_RESOURCE} free "
                f"(free now: {self._free_text()})",
            )
        except RayError as e:
            await self._kill(held)
            return WorkerFailure(
                FailureKind.SPAWN_FAILED, f"the session's actor did not start: {e}", key_digest=key.digest
            )
        held.node, held.host = info["node"], info["host"]
        held.reserved_mb = float(info["reservedMb"])
        held.owned = info["owner"] == self.token  # else another driver made it first: use, never stop
        if prewarm:
            held.reserved_until = time.monotonic() + (self.config.idle_ttl or self.config.queue_timeout)
        self.actors[key.full_digest] = held
        return held

    def _exists(self, name: str) -> bool:
        import ray

        try:
            ray.get_actor(name, namespace=self.choice.namespace)
        except ValueError:
            return False
        return True

    def _abandon_after(self) -> float | None:
        """A detached actor ends itself after twice the idle TTL (its daemon would have reaped it
        by then, were it alive); the others die with their driver."""
        ttl = self.config.idle_ttl
        return 2 * ttl if self.choice.detached and ttl is not None else None

    @staticmethod
    def _refused(key_digest: str, message: str) -> WorkerFailure:
        return WorkerFailure(FailureKind.MEMORY_REFUSED, message, key_digest=key_digest)

    async def _reserve_room(self, key: SessionKey, need: float, total: float, prewarm: bool) -> WorkerFailure | None:
        """Count the new actor in (`_pending`) once the warm sessions, those being created
        included, are under the pool's `max_workers` (one more while a prewarm is placed or not
        yet used: `check`'s look-ahead) and their memory and `need` fit the cluster's, evicting the least recently
        used idle actors to get there. A batch may evict a prewarmed actor not yet used, a
        prewarm never does, nor waits; with every session busy a batch waits for one to finish
        up to the queue timeout. Short of memory alone, Ray decides: a session that fits nowhere
        waits for its node, then is refused."""
        deadline = time.monotonic() + self.config.queue_timeout
        while True:
            now = time.monotonic()
            live = list(self.actors.values())
            count = len(live) + len(self._pending)
            used = sum(a.reserved_mb for a in live) + sum(self._pending.values())
            warming = bool(self._prewarming & self._pending.keys())
            ahead = prewarm or warming or any(a.reserved_until > now for a in live)
            cap = self.config.max_workers + (1 if ahead else 0)
            if count < cap and used + need <= total:
                break
            idle = [a for a in live if a.busy == 0 and (a.reserved_until <= now or not prewarm)]
            settled = [a for a in idle if a.reserved_until <= now]
            if idle:
                victim = min(settled or idle, key=lambda a: a.last_used)
                del self.actors[victim.full_digest]
                self._stopping(self._evict(victim))
                continue
            if count < cap:
                break
            if prewarm:
                return self._refused(key.digest, "every warm session is busy or about to be used")
            freed = self._freed
            try:
                async with asyncio.timeout(max(0.0, deadline - now)):
                    await freed.wait()
            except TimeoutError:
                return self._refused(
                    key.digest,
                    f"all {self.config.max_workers} warm sessions (max workers) stayed busy for "
                    f"{self.config.queue_timeout:.0f} s",
                )
        self._pending[key.full_digest] = need
        return None

    def _room_freed(self) -> None:
        self._freed.set()
        self._freed = asyncio.Event()

    def _stopping(self, stop: Coroutine[Any, Any, None]) -> None:
        """Stop an actor in the background: the lane that needs its room goes on at once (Ray
        places the new actor when the old one's memory is free; `close` waits for them all)."""
        task = asyncio.get_running_loop().create_task(stop)
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    async def _evict(self, held: HeldActor, graceful: bool = True, final: bool = False) -> None:
        """Forget the actor, and stop it when it is ours: gracefully (its worker's tree first),
        or at once when it was lost. An actor busy with another driver's batch refuses to close:
        it is kept for a later try, or, `final` (this executor closing), killed without closing
        its pool, so that the other driver's files count as lost and are retried."""
        if self.actors.get(held.full_digest) is held:
            del self.actors[held.full_digest]
        self._room_freed()
        if not held.owned:
            return
        if graceful:
            closed: object = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    closed = await _awaitable(held.handle.close.remote())
            if closed is False and not final:
                held.last_used = time.monotonic()
                self.actors.setdefault(held.full_digest, held)
                return
        await self._kill(held)

    @staticmethod
    async def _kill(held: HeldActor) -> None:
        """Only ever an actor this executor owns (`HeldActor.owned`)."""
        import ray
        from ray.exceptions import RayError

        if not held.owned:
            return
        with contextlib.suppress(RayError, ValueError):
            ray.kill(held.handle, no_restart=True)

    async def _reap(self, ttl: float) -> None:
        while True:
            await asyncio.sleep(min(5.0, max(ttl / 4, 0.05)))
            now = time.monotonic()
            for held in [a for a in self.actors.values() if a.busy == 0 and now - a.last_used > ttl]:
                await self._evict(held)

    # -- what it shows ---------------------------------------------------------------

    def _node_memory(self) -> dict[str, float]:
        import ray

        return {n["NodeID"]: float(n["Resources"].get(MEMORY_RESOURCE, 0.0)) for n in ray.nodes() if n["Alive"]}

    def _free_text(self) -> str:
        import ray

        free = ray.available_resources().get(MEMORY_RESOURCE, 0.0)
        return f"{free:.0f} MB across the cluster"

    def reaper_task(self) -> asyncio.Task[None] | None:
        return self._reaper

    def sessions(self) -> tuple[int, float]:
        return len(self.actors), sum(a.charged_mb for a in self.actors.values())

    def status(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": "ray",
            "address": self.choice.address,
            "namespace": self.choice.namespace,
            "connected": self._connected,
        }
        if not self._connected:
            return out
        out.update(
            nodes=node_rows(self.actors.values()),
            sessions=[a.to_json() for a in self.actors.values()],
            retriedFiles=self.retried,
            lostActors=self.lost,
            notes=list(self.notes),
        )
        return out

    async def close(self) -> None:
        """Stop every session actor this executor owns (a daemon killed without closing leaves
        its detached ones for the next daemon to re-attach), then leave Ray if it started it."""
        if self._reaper is not None:
            await cancel_and_wait(self._reaper)
            self._reaper = None
        for task in list(self._prewarms):
            task.cancel()
        await asyncio.gather(*self._prewarms, return_exceptions=True)
        if self._connected:
            await asyncio.gather(*self._stops)
            await asyncio.gather(*(self._evict(a, final=True) for a in list(self.actors.values())))
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
        self._connected = False


@dataclass(slots=True)
class _KeyLock:
    """One key's creation lock, and how many wait for it (dropped at none)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


async def _awaitable(ref: Any) -> Any:
    return await ref
