"""Every CRL of the store in one run (``openjpki crl generate``): the full lists and every
SIGN partition of every root generation, in one process.

What one :meth:`AuthorityService.write_crl` per file would pay per CRL (the nation's SIGN CRL
has some 1,700 partitions of a few hundred entries each) is paid once here: the CRL numbers
are taken in one transaction, the partitions' places read in one query, the entries of each
CRL streamed from one connection (one statement per CRL), small lists spooled in memory,
and each file's fsync and rename done by a few threads while the next CRLs are made. Each
file still appears whole or not at all (a temporary file, fsynced, then renamed), and the
memory stays bounded whatever the number of entries.
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Optional

from openjpki.pki import Kind, write_crl
from openjpki.services.authority import AuthorityService, LoadedAuthority, crl_path
from openjpki.services.authority_types import UnknownPartition, WrittenCrlFile
from openjpki.store import queries as q

SYNC_THREADS = 8


@dataclass(frozen=True)
class CrlTarget:
    """One CRL to write: of which generation of which authority, which partition (None: the
    full list), and where."""

    authority: LoadedAuthority
    partition: Optional[str]
    path: Path


def every_crl(service: AuthorityService, home: Path, kinds: list[str],
              generation: Optional[int] = None, *, full: bool = True) -> list[CrlTarget]:
    """The CRLs the home publishes (the URL layout: ``crl/sign.crl``, ``crl/sign/<p>.crl``,
    ``crl/g2/…``) of ``kinds``, of every generation or of one; ``full`` False: the SIGN
    partitions only."""
    targets = []
    for kind in kinds:
        # UnknownGeneration when ``generation`` is not one of ``kind``
        chosen = service.generations(kind) if generation is None else [service.generation(kind, generation)]
        for a in chosen:
            base = home / crl_path(a.generation).lstrip("/")
            if full:
                targets.append(CrlTarget(a, None, base / f"{kind}.crl"))
            if kind == Kind.SIGN.value:
                targets += [CrlTarget(a, p, base / "sign" / f"{p}.crl") for p in service.partitions(a.generation)]
    return targets


def _finish(out: BinaryIO, tmp: Path, path: Path) -> None:
    try:
        out.flush()
        os.fsync(out.fileno())
        out.close()
        os.replace(tmp, path)
    finally:
        if not out.closed:
            out.close()
        tmp.unlink(missing_ok=True)


def write_crls(service: AuthorityService, targets: list[CrlTarget], *, now: datetime,
               validity: Optional[timedelta] = None) -> list[WrittenCrlFile]:
    """Write every CRL of ``targets`` (see the module's text); what was written, in order.
    UnknownPartition when a partition has no CRL series."""
    validity = validity or service.crl_validity
    store = service.store
    places: dict[int, dict[str, tuple[str, str]]] = {}
    numbers: list[int] = []
    with store.transaction() as s:
        for t in targets:
            a = t.authority
            if a.id not in places:
                places[a.id] = {p.partition: (p.prefecture, p.municipality) for p in q.crl_partitions(s, a.id)}
            if t.partition is not None and t.partition not in places[a.id]:
                raise UnknownPartition(t.partition)
            numbers.append(q.next_crl_number(s, a.id, t.partition or "", now))
    written: list[WrittenCrlFile] = []
    pending: list[Future] = []
    with ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="openjpki-crl-sync") as pool, \
            store.engine.connect() as conn:
        revisions = q.revisions(conn)
        for t, number in zip(targets, numbers):
            a = t.authority
            t.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = t.path.with_name(f".{t.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            out = open(tmp, "w+b")
            try:
                crl = write_crl(out, issuer=a.root, signer=service.signer(a.id),
                                entry_batches=q.revoked_entry_batches(conn, a.id, t.partition), crl_number=number,
                                this_update=now, next_update=now + validity,
                                partition=None if t.partition is None else places[a.id][t.partition],
                                spool_dir=str(t.path.parent))
            except BaseException:
                out.close()
                tmp.unlink(missing_ok=True)
                raise
            pending.append(pool.submit(_finish, out, tmp, t.path))
            written.append(WrittenCrlFile(a.kind, t.partition, number, t.path, crl.entries, crl.size, crl.sha256,
                                          now, now + validity, a.id, revisions.get(a.id, 0), a.generation))
        for f in pending:
            f.result()  # an fsync or rename that failed fails the run
    return written
