"""Inclusion proofs an inspector checks with the public key alone.

`entry_proof` exports one entry with a signed checkpoint that covers it and the RFC 6962 audit
path from the entry's leaf to that checkpoint's root for the entry's shard. `check_proof` is
the inspector's side: it needs nothing but the exported document and the public key (no
database, no audit secret), and says in one line what holds or what does not:

1. the checkpoint's Ed25519 signature over `SIGNED_PREFIX` + its canonical JSON holds;
2. the entry's hash is SHA-256 of the JSON list of its fields in `hashed_fields` order
   (json.dumps(values, ensure_ascii=False): ", " between values, UTF-8);
3. its leaf, SHA-256(0x00 || hash), with the audit path, gives the checkpoint's root for the
   entry's shard at `leaf_index` = seq - 1 in a tree of `tree_size` leaves (RFC 9162 §2.1.3.2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.engine import Connection

from custody.domain.audit_chain import HASHED_FIELDS, entry_leaf, hash_values
from custody.domain.merkle import inclusion_proof, leaves_subtree, verify_inclusion
from custody.models.audit import AuditEntry
from custody.services.core.audit_keys import AuditKeys, public_key_id, signature_holds
from custody.services.core.checkpoints import (
    FORMAT,
    SIGNED_PREFIX,
    Checkpoint,
    canonical,
    parse_checkpoint,
    read_log,
    signed_message,
)

PROOF_FORMAT = "custody-audit-inclusion-proof/1"


class ProofUnavailable(RuntimeError):
    """No proof can be given (unknown entry, no checkpoint covers it yet); says why."""


def entry_proof(
    conn: Connection, keys: AuditKeys, log_path, entry_id: int, checkpoint_number=None
) -> dict:
    """The document an inspector checks: the entry, a checkpoint covering it (the latest, or
    the one asked for) and the audit path between them."""
    table = AuditEntry.__table__
    entry = conn.execute(select(table).where(table.c.id == entry_id)).mappings().first()
    if entry is None:
        raise ProofUnavailable(f"there is no audit entry {entry_id}")
    checkpoint = _covering(log_path, keys, entry, checkpoint_number)
    size = checkpoint.head(entry["shard"]).size
    hashes = conn.scalars(
        select(table.c.hash)
        .where(table.c.shard == entry["shard"], table.c.seq <= size)
        .order_by(table.c.seq)
    ).all()
    leaves = [entry_leaf(stored) for stored in hashes]
    path = inclusion_proof(entry["seq"] - 1, size, leaves_subtree(leaves))
    return {
        "format": PROOF_FORMAT,
        "entry": {
            "id": entry["id"],
            **{name: entry[name] for name in HASHED_FIELDS},
            "hash": entry["hash"],
        },
        "hashed_fields": list(HASHED_FIELDS),
        "leaf_index": entry["seq"] - 1,
        "tree_size": size,
        "audit_path": [node.hex() for node in path],
        "checkpoint": checkpoint.as_json(),
        "signed_prefix": SIGNED_PREFIX.decode("ascii"),
        "public_key": keys.public.hex(),
    }


def _covering(log_path, keys: AuditKeys, entry: Mapping, wanted: int | None) -> Checkpoint:
    checkpoints = []
    for _, line in read_log(log_path):
        try:
            checkpoint = parse_checkpoint(line)
        except ValueError:
            continue
        if checkpoint.signed_by(keys.public):
            checkpoints.append(checkpoint)
    if wanted is not None:
        checkpoints = [c for c in checkpoints if c.number == wanted]
        if not checkpoints:
            raise ProofUnavailable(f"there is no valid checkpoint {wanted} in {log_path}")
    for checkpoint in reversed(checkpoints):
        head = checkpoint.head(entry["shard"])
        if head is not None and head.size >= entry["seq"]:
            return checkpoint
    raise ProofUnavailable(
        f"no checkpoint covers entry {entry['id']} yet: run `custody audit checkpoint` first"
    )


def check_proof(document: Mapping, public: bytes) -> str:
    """Check an exported proof with the public key alone; the one-line verdict. ValueError
    says what does not hold."""
    if document.get("format") != PROOF_FORMAT:
        raise ValueError(f"this is not a {PROOF_FORMAT} document")
    try:
        signed = document["checkpoint"]
        checkpoint = parse_checkpoint(canonical(signed))
        entry = document["entry"]
        values = [entry[name] for name in HASHED_FIELDS]
        index, size = int(document["leaf_index"]), int(document["tree_size"])
        path = [bytes.fromhex(node) for node in document["audit_path"]]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"the document is incomplete or malformed ({error})") from None
    if signed.get("format") != FORMAT:
        raise ValueError("the checkpoint is not a tracker checkpoint")
    signature = bytes.fromhex(checkpoint.signature)
    if not signature_holds(public, signed_message(checkpoint.body()), signature):
        raise ValueError(
            f"checkpoint {checkpoint.number}'s signature does not hold for this public key "
            f"({public_key_id(public)})"
        )
    if hash_values(values) != entry["hash"]:
        raise ValueError(f"entry {entry['id']}'s fields do not hash to its hash: it was altered")
    head = checkpoint.head(entry["shard"])
    if head is None or head.size != size or index != entry["seq"] - 1:
        raise ValueError("the proof's position does not match the checkpoint and the entry")
    if not verify_inclusion(index, size, entry_leaf(entry["hash"]), path, bytes.fromhex(head.root)):
        raise ValueError(
            f"entry {entry['id']} is not in checkpoint {checkpoint.number}'s tree for shard "
            f"{head.shard}: the audit path does not lead to the signed root"
        )
    return (
        f"proof OK: entry {entry['id']} (shard {entry['shard']}, seq {entry['seq']}) is entry "
        f"{index + 1} of {size} under checkpoint {checkpoint.number}, made {checkpoint.made_at}, "
        f"signed by key {public_key_id(public)}"
    )


def dumps(document: Mapping) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
