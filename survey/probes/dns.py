"""The DNS probe: stub-resolver queries over long-lived shared UDP sockets, TCP on truncation.

Why not ``dns.asyncquery.udp``: it opens a socket and builds/parses a full ``dns.message`` per
query, which tops out near 1,700 queries/s on one core. Here a few connected UDP sockets per
resolver are opened once; one receiver task per socket matches responses to waiting queries by
id and question. Queries are built from a byte template (header + name + EDNS0 OPT), negative
answers (no answer records) are decided from the header after the question check, and
dnspython's name and rdata parsers stay the parsers of record for the answer section of every
response that carries records (authority and additional sections are not evidence: skipped).

Spoofing checks follow dnspython's query functions: a UDP response is accepted only if it comes
from the address/port the query went to, has the query's id, is a response (QR) and carries the
query's question. Anything else, including bytes that do not parse, is ignored (and counted)
while the query keeps waiting until its deadline. ``query`` never raises on network or DNS
problems: every outcome is a ``DnsResult``.
"""

from __future__ import annotations

import collections
import contextlib
import random
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Protocol, Self

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.wire
import trio

from survey.core.observations import RCODE_TIMEOUT, DnsResult, Dnssec, DnsStatus
from survey.probes.dnswire import (
    HEADER_TAIL,
    HEADER_TAIL_CD,
    OPT_RR,
    RCODE_STATUS,
    REFUSED,
    SERVFAIL,
    question_tail,
)
from survey.probes.dnswire import MAX_CNAME_CHAIN as MAX_CNAME_CHAIN
from survey.probes.dnswire import MAX_TCP_MESSAGE as MAX_TCP_MESSAGE
from survey.probes.dnswire import Answer as Answer
from survey.probes.dnswire import build_query as build_query
from survey.probes.dnswire import check_response as check_response
from survey.probes.dnswire import encode_qname as encode_qname
from survey.probes.dnswire import interpret as interpret
from survey.probes.dnswire import is_retried as is_retried
from survey.probes.dnswire import random_id as random_id

#: Outstanding queries per socket above which new ones wait (ids must stay easy to find).
MAX_PENDING_PER_SOCKET = 32768


@dataclass(frozen=True, slots=True)
class DnsConfig:
    """How to resolve: which recursive resolvers, and how patiently."""

    resolvers: tuple[tuple[str, int], ...] = field(default_factory=lambda: system_resolvers())
    timeout: float = 2.0  # per attempt
    retries: int = 2  # extra attempts on timeout / SERVFAIL, with backoff
    backoff: float = 0.5  # seconds, doubled each retry (with jitter)
    sockets: int = 4  # long-lived UDP sockets per resolver


class Limiter(Protocol):
    """What the client needs from ``survey.probes.net.RateLimiter`` (one token per query sent)."""

    async def acquire(self, n: int = 1) -> None: ...


def system_resolvers() -> tuple[tuple[str, int], ...]:
    """The resolvers of /etc/resolv.conf (port 53), or () when there is no configuration."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return ()
    return tuple((str(ns), int(resolver.port)) for ns in resolver.nameservers)


class _Waiter:
    """One outstanding UDP query on a socket; the receiver fills ``answer`` and tells its batch."""

    __slots__ = ("answer", "group", "ignored", "last_reason", "qid", "question")

    def __init__(self, qid: int, question: bytes, group: _Group) -> None:
        self.qid = qid
        self.question = question
        self.group = group
        self.answer: Answer | None = None
        self.ignored = 0
        self.last_reason: str | None = None

    def wake(self) -> None:
        """Answered: wake the batch once its last question is answered."""
        group = self.group
        group.remaining -= 1
        if not group.remaining:
            group.wake()


class _Group:
    """The first attempts of a domain's questions, sent together and awaited once.

    Its deadline is kept by the client's expiry task (``DnsClient._expire_forever``), not by a
    cancel scope, and its task is parked and rescheduled directly, not through an ``Event``:
    per domain, that saves a cancel scope (deadline registration, cancel status) and a parking
    lot, about 5 % of a scan's CPU.
    """

    __slots__ = ("deadline", "remaining", "task", "woken")

    def __init__(self, n: int, deadline: float) -> None:
        self.deadline = deadline
        self.remaining = n
        self.task: trio.lowlevel.Task | None = None
        self.woken = False

    def wake(self) -> None:
        """Every question answered, or the deadline passed: let the waiting task go on."""
        self.woken = True
        task, self.task = self.task, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    async def wait(self) -> None:
        """Until ``wake`` (a checkpoint either way; cancellable like ``Event.wait``)."""
        if self.woken:
            await trio.lowlevel.checkpoint()
            return
        self.task = trio.lowlevel.current_task()

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self.task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)


class _Channel:
    """A long-lived connected UDP socket to one resolver and its outstanding queries by id."""

    def __init__(self, raw: socket.socket, peer: tuple[str, int]) -> None:
        self.raw = raw  # non-blocking; owned (and closed) by ``sock``
        self.sock = trio.socket.from_stdlib_socket(raw)
        self.peer = peer
        self.pending: dict[int, _Waiter] = {}
        self.slots = trio.Semaphore(MAX_PENDING_PER_SOCKET)  # keeps free ids easy to find
        self.ignored = 0

    def new_id(self) -> int:
        """A random 16-bit id not outstanding on this socket (never two alike at once)."""
        while (qid := random_id()) in self.pending:
            pass
        return qid

    async def send(self, wire: bytes, deadline: float) -> bool:
        """Send now when the kernel takes it (almost always for UDP), else wait for room until
        ``deadline``; whether the datagram went out."""
        try:
            self.raw.send(wire)
        except BlockingIOError:
            with trio.move_on_at(deadline):
                await self.sock.send(wire)
                return True
            return False
        return True

    async def receive_forever(self) -> None:
        """Drain every queued datagram per wake-up (one trio wait per burst, not per answer)."""
        raw = self.raw
        burst = 0
        while True:
            try:
                data, source = raw.recvfrom(MAX_TCP_MESSAGE)
            except BlockingIOError:
                burst = 0
                await trio.lowlevel.wait_readable(raw)
                continue
            except OSError:  # e.g. ICMP port unreachable on a connected socket
                await trio.lowlevel.checkpoint()
                continue
            self.deliver(data, source)
            burst += 1
            if burst >= 64:  # let the woken queries run
                burst = 0
                await trio.lowlevel.checkpoint()

    def deliver(self, data: bytes, source: tuple[str, int] | tuple[str, int, int, int]) -> None:
        if (source[0], source[1]) != self.peer or len(data) < 12:
            self.ignored += 1
            return
        waiter = self.pending.get(int.from_bytes(data[:2], "big"))
        if waiter is None:
            self.ignored += 1
            return
        checked = check_response(data, waiter.qid, waiter.question)
        if isinstance(checked, str):
            self.ignored += 1
            waiter.ignored += 1
            waiter.last_reason = checked
            return
        del self.pending[waiter.qid]
        waiter.answer = checked
        waiter.wake()


class DnsClient:
    """Async context manager resolving through ``config.resolvers`` over shared sockets.

    ``queries_sent`` counts every attempt (UDP or TCP), each of which takes one token from
    ``limiter``; ``responses_ignored`` counts datagrams that failed the checks; ``timeouts`` and
    ``servfails`` the UDP attempts that timed out or were answered SERVFAIL.
    """

    def __init__(self, config: DnsConfig, *, limiter: Limiter | None = None) -> None:
        if not config.resolvers:
            raise ValueError("DnsConfig.resolvers is empty")
        if config.sockets < 1 or config.retries < 0 or not config.timeout > 0:
            raise ValueError(f"invalid {config!r}")
        self.config = config
        self.limiter = limiter
        self.queries_sent = 0
        #: UDP attempts with no accepted answer by their deadline, and SERVFAIL answers: what
        #: says the resolver (or the path to it) is the limit
        self.timeouts = 0
        self.servfails = 0
        self._channels: list[list[_Channel]] = []
        self._stack = contextlib.AsyncExitStack()
        self._nursery: trio.Nursery | None = None
        self._turn = 0
        #: batches by deadline (one timeout for all: appended in deadline order)
        self._expiry: collections.deque[_Group] = collections.deque()

    @property
    def responses_ignored(self) -> int:
        return sum(ch.ignored for chans in self._channels for ch in chans)

    async def __aenter__(self) -> Self:
        # Sockets are registered before the nursery so that they close after the receivers end.
        try:
            for address, port in self.config.resolvers:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                chans = []
                for _ in range(self.config.sockets):
                    raw = socket.socket(family, socket.SOCK_DGRAM)
                    raw.setblocking(False)
                    chan = _Channel(raw, (address, port))
                    self._stack.callback(chan.sock.close)
                    # Bursts of answers must not overflow the default (~200 datagram) buffer.
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
                    await chan.sock.connect((address, port))
                    peer = raw.getpeername()  # the kernel's spelling, as recvfrom reports it
                    chan.peer = (peer[0], peer[1])
                    chans.append(chan)
                self._channels.append(chans)
            self._nursery = await self._stack.enter_async_context(trio.open_nursery())
            for chans in self._channels:
                for chan in chans:
                    self._nursery.start_soon(chan.receive_forever)
            self._nursery.start_soon(self._expire_forever)
        except BaseException:
            if self._nursery is not None:
                self._nursery.cancel_scope.cancel()
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        return await self._stack.__aexit__(exc_type, exc, tb)

    async def query(self, qname: str, qtype: str) -> DnsResult:
        """Resolve one question with retries; never raises on network or DNS problems.

        Timeouts and SERVFAIL are retried (on the next resolver, after a jittered, doubling
        backoff); a truncated UDP answer is asked again over TCP, which counts as an attempt.
        When SERVFAIL is the outcome, the question is asked once more with CD set (an attempt,
        on the last resolver tried): an answer then means DNSSEC-bogus data, returned as
        SERVFAIL (what validating senders get) with ``dnssec`` bogus; else ``dnssec`` error.
        When no attempt got an accepted answer the status is TIMEOUT, with the reasons (also
        ignored invalid responses, send or TCP errors) in ``error``; a SERVFAIL seen on any
        attempt wins over later timeouts. A name that cannot be encoded is ERROR, 0 attempts.
        """
        try:
            question = encode_qname(qname) + question_tail(qtype)
        except (ValueError, dns.exception.DNSException) as exc:
            return DnsResult(qname, qtype, DnsStatus.ERROR, error=str(exc), attempts=0)
        if not self._channels:
            raise RuntimeError("DnsClient.query outside 'async with DnsClient(...)'")
        self._turn += 1
        return await self._resolve(qname, qtype, question, self._turn)

    async def _resolve(self, qname: str, qtype: str, question: bytes, first: int,
                       answered: Answer | str | None = None) -> DnsResult:
        """``query``'s attempts; ``answered`` is the outcome of a first attempt already made."""
        config = self.config
        attempts = 0
        failure: DnsResult | None = None
        notes: list[str] = []
        for i in range(config.retries + 1):
            resolver = (first + i) % len(self._channels)
            chans = self._channels[resolver]
            attempts += 1
            if i == 0 and answered is not None:
                answer = answered
            else:
                if i:
                    await trio.sleep(config.backoff * 2 ** (i - 1) * random.uniform(0.75, 1.0))
                chan = chans[(first // len(self._channels)) % len(chans)]
                answer = await self._udp(chan, question)
            if isinstance(answer, Answer) and answer.truncated:
                attempts += 1
                answer = await self._tcp(config.resolvers[resolver], question)
            if isinstance(answer, str):
                notes.append(answer)
                continue
            result = interpret(qname, qtype, answer, attempts)
            if not is_retried(answer.rcode):
                return result
            failure = result
        if failure is not None:
            attempts += 1
            resolver = (first + config.retries) % len(self._channels)
            chans = self._channels[resolver]
            checked = await self._udp(chans[(first // len(self._channels)) % len(chans)],
                                      question, HEADER_TAIL_CD)
            if isinstance(checked, Answer) and checked.rcode not in (SERVFAIL, REFUSED):
                with_cd = RCODE_STATUS.get(checked.rcode, DnsStatus.ERROR)
                return replace(failure, attempts=attempts, dnssec=Dnssec.BOGUS,
                               error=f"DNSSEC validation failed (with CD: {with_cd})")
            return replace(failure, attempts=attempts)
        return DnsResult(
            qname,
            qtype,
            DnsStatus.TIMEOUT,
            rcode=RCODE_TIMEOUT,
            error=f"no valid response after {attempts} attempts: "
            + "; ".join(dict.fromkeys(notes)),
            attempts=attempts,
            dnssec=Dnssec.ERROR,
        )

    async def _acquire(self) -> None:
        if self.limiter is not None:
            await self.limiter.acquire(1)
        self.queries_sent += 1

    async def _udp(self, chan: _Channel, question: bytes, header: bytes = HEADER_TAIL
                   ) -> Answer | str:
        """One UDP attempt: the accepted answer, or why there was none within the timeout."""
        return (await self._udp_batch(chan, (question,), header))[0]

    async def _udp_batch(self, chan: _Channel, questions: Sequence[bytes],
                         header: bytes = HEADER_TAIL) -> list[Answer | str]:
        """First attempts of several questions on one socket: one wait for all of them.

        Same checks and accounting as ``_udp`` (a token and a slot per question), but one
        deadline and one wait for the batch instead of a cancel scope and an ``Event`` per
        question (see ``_Group``).
        """
        n = len(questions)
        if self.limiter is not None:
            await self.limiter.acquire(n)
        self.queries_sent += n
        taken = 0
        try:
            for _ in range(n):
                try:
                    chan.slots.acquire_nowait()
                except trio.WouldBlock:
                    await chan.slots.acquire()
                taken += 1
        except BaseException:  # cancelled while waiting for room: give back what was taken
            for _ in range(taken):
                chan.slots.release()
            raise
        group = _Group(n, trio.current_time() + self.config.timeout)
        waiters = []
        for question in questions:
            waiter = _Waiter(chan.new_id(), question, group)
            chan.pending[waiter.qid] = waiter
            waiters.append(waiter)
        failed: str | None = None
        try:
            for waiter in waiters:
                if not await chan.send(struct.pack("!H", waiter.qid) + header
                                          + waiter.question + OPT_RR, group.deadline):
                    break
            else:
                self._expiry.append(group)
                await group.wait()
        except OSError as exc:
            failed = f"udp send: {exc}"
        finally:
            for waiter in waiters:
                chan.pending.pop(waiter.qid, None)
                chan.slots.release()
        outcomes = [attempt_outcome(w.answer, failed, w.ignored, w.last_reason)
                    for w in waiters]
        for outcome in outcomes:
            if isinstance(outcome, str):
                self.timeouts += outcome.startswith("timeout")
            elif outcome.rcode == SERVFAIL:
                self.servfails += 1
        return outcomes

    async def _expire_forever(self) -> None:
        """Wake every batch whose deadline has passed (answered ones are merely dropped)."""
        expiry = self._expiry
        while True:
            now = trio.current_time()
            while expiry and expiry[0].deadline <= now:
                expiry.popleft().wake()
            await trio.sleep_until(expiry[0].deadline if expiry else now + self.config.timeout)

    async def _tcp(self, resolver: tuple[str, int], question: bytes) -> Answer | str:
        """One TCP attempt after truncation, bounded by the timeout and a 65535-byte message."""
        await self._acquire()
        qid = random_id()
        wire = struct.pack("!H", qid) + HEADER_TAIL + question + OPT_RR
        data = b""
        try:
            with trio.move_on_after(self.config.timeout) as scope:
                stream = await trio.open_tcp_stream(*resolver)
                async with stream:
                    await stream.send_all(struct.pack("!H", len(wire)) + wire)
                    prefix = await _receive_exactly(stream, 2)
                    data = await _receive_exactly(stream, int.from_bytes(prefix, "big"))
        except (OSError, trio.BrokenResourceError, EOFError) as exc:
            return f"tcp: {type(exc).__name__}: {exc}"
        if scope.cancelled_caught:
            return "tcp timeout"
        checked = check_response(data, qid, question)
        if isinstance(checked, str):
            return f"tcp: {checked}"
        if checked.truncated:
            return "tcp: truncated response"
        return checked

    async def validates(self, name: str) -> bool | None:
        """Whether the resolver validates DNSSEC, asked once per run with a name known to be
        signed: True when its answer carries AD, False when it does not, None when no answer
        came (or it was bogus or failed: a validating resolver with a broken trust anchor)."""
        result = await self.query(name, "A")
        if result.dnssec in (Dnssec.SECURE, Dnssec.INSECURE):
            return result.dnssec is Dnssec.SECURE
        return None

    async def resolve_addresses(self, host: str) -> DnsResult:
        """A, then AAAA only when A yields no address (used for MX hosts)."""
        a = await self.query(host, "A")
        if a.addresses:
            return a
        return merge_addresses(a, await self.query(host, "AAAA"))

    async def addresses_and_tlsa(self, host: str, port: int = 25
                                 ) -> tuple[DnsResult, DnsResult]:
        """An MX host's addresses (as ``resolve_addresses``) and ``_<port>._tcp.<host>`` TLSA,
        their first attempts in one ``batch`` (issue 16: the DANE step)."""
        a, tlsa = await self.batch(((host, "A"), (f"_{port}._tcp.{host}", "TLSA")))
        if not a.addresses:
            a = merge_addresses(a, await self.query(host, "AAAA"))
        return a, tlsa

    async def batch(self, asked: Sequence[tuple[str, str]], *,
                    wire: Sequence[bytes] | None = None) -> list[DnsResult]:
        """Several questions ``(qname, qtype)`` at once: one result per question, in order,
        each as ``query`` would give it (same retries, statuses, accounting).

        Why: the first attempts go out back to back on one socket and are awaited once
        (``_udp_batch``); only a question that needs another attempt (timeout, SERVFAIL,
        truncation) continues in a task of its own, through ``query``'s retry rules. Per domain
        of a scan (four questions) this saves a nursery, four tasks, three cancel scopes and
        three ``Event`` waits: about 40 % of the client's CPU per query
        (``docs/benchmarks.md``). A retry waits for the batch to end, so a SERVFAIL is retried
        only once the other questions are answered or time out.

        ``wire``: the questions already encoded (``encode_qname(qname) +
        question_tail(qtype)`` each, e.g. a caller that encodes a domain once for several
        names); [] makes each question go through ``query`` (which reports a name that cannot
        be encoded). Without it the names are encoded here, and one that cannot be makes every
        question go through ``query``.
        """
        if wire is None:
            try:
                wire = [encode_qname(q) + question_tail(t) for q, t in asked]
            except (ValueError, dns.exception.DNSException):
                wire = []
        results: list[DnsResult | None] = [None] * len(asked)
        if not wire or not self._channels:
            async def run(i: int, qname: str, qtype: str) -> None:
                results[i] = await self.query(qname, qtype)

            async with trio.open_nursery() as nursery:
                for i, (qname, qtype) in enumerate(asked):
                    nursery.start_soon(run, i, qname, qtype)
            return _all(results)
        if len(wire) != len(asked):
            raise ValueError(f"{len(wire)} wire questions for {len(asked)} asked")
        self._turn += 1
        first = self._turn
        chans = self._channels[first % len(self._channels)]
        answers = await self._udp_batch(chans[(first // len(self._channels)) % len(chans)],
                                        wire)
        again = []
        for i, ((qname, qtype), answer) in enumerate(zip(asked, answers, strict=True)):
            if isinstance(answer, Answer) and not answer.truncated and not is_retried(answer.rcode):
                results[i] = interpret(qname, qtype, answer, 1)
            else:
                again.append(i)
        if again:
            questions = wire

            async def retry(i: int) -> None:
                qname, qtype = asked[i]
                results[i] = await self._resolve(qname, qtype, questions[i], first, answers[i])

            async with trio.open_nursery() as nursery:
                for i in again:
                    nursery.start_soon(retry, i)
        return _all(results)


def attempt_outcome(answer: Answer | None, failed: str | None, ignored: int = 0,
                    last_reason: str | None = None) -> Answer | str:
    """A finished UDP attempt: the accepted ``answer``, else why there was none (``failed``:
    the send failed; else a timeout, naming the ``ignored`` invalid responses and the last
    one's reason)."""
    if answer is not None:
        return answer
    if failed is not None:
        return failed
    if ignored:
        return f"timeout ({ignored} invalid responses ignored: {last_reason})"
    return "timeout"


def merge_addresses(a: DnsResult, aaaa: DnsResult) -> DnsResult:
    """A host's addresses from its A and then AAAA lookups: AAAA's result when it has
    addresses, else A's; attempts of both.

    An AAAA lookup that failed after an A lookup with no addresses is the result: without it
    the row would say "no address" where the measurement could not tell (classified ``error``).
    """
    chosen = aaaa if aaaa.addresses or (aaaa.failed and not a.failed) else a
    return replace(chosen, attempts=a.attempts + aaaa.attempts)


_merge = merge_addresses  # its name before the funnel moved to ``survey.scan.funnel``


def _all(results: Sequence[DnsResult | None]) -> list[DnsResult]:
    """Every question of a batch has its result."""
    done = [r for r in results if r is not None]
    assert len(done) == len(results)
    return done


async def _receive_exactly(stream: trio.SocketStream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = await stream.receive_some(n - len(buf))
        if not chunk:
            raise EOFError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)
