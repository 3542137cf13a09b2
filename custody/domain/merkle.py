"""Merkle tree hashes, inclusion and consistency proofs, as RFC 6962 (and RFC 9162) define them.

The audit trail's signed checkpoints commit to each shard's entries as the Merkle tree head of
their hashes, so that anyone holding the checkpoint and the public key can check that an entry
is in the trail (an inclusion proof) and that a later checkpoint extends an earlier one (a
consistency proof), without the database. The hashing is the RFC's: a leaf is
SHA-256(0x00 || data), an inner node SHA-256(0x01 || left || right), the empty tree
SHA-256(""), and a tree of n > 1 leaves splits at the largest power of two below n.

A `Frontier` holds what an append-only tree needs to go on growing: the roots of its complete
subtrees, largest first (one per bit set in its size). Appending a leaf and computing the head
then cost O(log n), so checkpoints are incremental and verifying a million entries stays
linear. Proof generation takes `subtree(start, end)`, a function that returns the Merkle tree
hash of leaves [start, end), so callers can serve it from leaves, from a frontier or both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256

Subtree = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1): where the tree divides."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of leaves given by their leaf hashes."""
    frontier = Frontier()
    for leaf in leaf_hashes:
        frontier.append(leaf)
    return frontier.root()


class Frontier:
    """The right edge of an append-only Merkle tree: one subtree root per bit set in `size`."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.nodes = list(nodes)
        if len(self.nodes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes")

    def append(self, leaf: bytes) -> None:
        """Add one leaf (its leaf hash): equal-sized subtrees merge, as binary carries do."""
        nodes = self.nodes
        carry = self.size
        while carry & 1:
            leaf = _sha256(NODE_PREFIX + nodes.pop() + leaf).digest()  # node_hash, inlined
            carry >>= 1
        nodes.append(leaf)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """`append` each leaf in turn, in one call: verifying the audit trail grows its trees
        by thousands of leaves at a time, and a call per leaf would cost more than its hashing."""
        nodes, size, prefix = self.nodes, self.size, NODE_PREFIX
        pop, push = nodes.pop, nodes.append
        for leaf in leaves:
            carry = size
            while carry & 1:
                leaf = _sha256(prefix + pop() + leaf).digest()
                carry >>= 1
            push(leaf)
            size += 1
        self.size = size

    def root(self) -> bytes:
        """The tree head: the subtree roots folded from the right."""
        if not self.nodes:
            return EMPTY_ROOT
        nodes = self.nodes
        head = nodes[-1]
        for node in reversed(nodes[:-1]):
            head = node_hash(node, head)
        return head

    def ranges(self) -> list[tuple[int, int]]:
        """The leaf range [start, end) each frontier node covers, left to right."""
        out, start = [], 0
        for bit in reversed(range(self.size.bit_length())):
            if self.size >> bit & 1:
                out.append((start, start + (1 << bit)))
                start += 1 << bit
        return out

    def copy(self) -> Frontier:
        return Frontier(self.size, self.nodes)


def leaves_subtree(leaf_hashes: Sequence[bytes], offset: int = 0) -> Subtree:
    """`subtree` over a list of leaf hashes, the first of which is leaf number `offset`."""

    def subtree(start: int, end: int) -> bytes:
        return root(leaf_hashes[start - offset : end - offset])

    return subtree


def inclusion_proof(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 §2.1.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, subtree: Subtree) -> list[bytes]:
    """The proof that the tree of `old_size` leaves is a prefix of that of `new_size`
    (RFC 6962 §2.1.2); empty when either is empty or they are the same size."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree of {new_size} leaves cannot extend one of {old_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, whole = 0, new_size, True
    while old_size != end:
        k = split_point(end - start)
        if old_size - start <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            whole = False
    if not whole:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether `proof` shows leaf hash `leaf` at `index` in the tree with `expected_root`
    (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size or not _all_hashes([leaf, expected_root, *proof]):
        return False
    fn, sn = index, size - 1
    head = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            head = node_hash(sibling, head)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            head = node_hash(head, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and head == expected_root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of the tree
    (`new_size`, `new_root`) (RFC 9162 §2.1.4.2)."""
    if not 0 <= old_size <= new_size or not _all_hashes([old_root, new_root, *proof]):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root


def _all_hashes(values: Iterable[bytes]) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)
