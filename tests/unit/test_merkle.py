"""RFC 6962 Merkle trees: known-answer vectors pinned literally, and every way a proof fails.

The leaves, tree heads and proofs below are the RFC 6962 test vectors of the transparency-dev
Merkle library (Go; `proof/verify_test.go` and `rfc6962/rfc6962_test.go`, which took them from
certificate-transparency), copied here as literals: any change to the hashing (prefixes, split
point, order of a proof) fails these tests. Leaf numbers are 0-based here.
"""

from __future__ import annotations

import hashlib

import pytest

from custody.domain import merkle
from custody.domain.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaves_subtree,
    node_hash,
    root,
    split_point,
    verify_consistency,
    verify_inclusion,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# The eight leaves of the vectors, as data (not yet leaf-hashed).
LEAVES = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
# The tree head of the first n leaves, n = 1 … 8.
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]
# A hash no tree here has: the corruptions below swap it in.
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")
LEAF_HASHES = [leaf_hash(leaf) for leaf in LEAVES]
SUBTREE = leaves_subtree(LEAF_HASHES)


def test_the_rfc6962_hashes_of_the_empty_tree_a_leaf_and_a_node():
    # echo -n | sha256sum
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    # echo -n 00 | xxd -r -p | sha256sum: the empty leaf is not the empty tree
    assert leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    # echo -n 004C313233343536 | xxd -r -p | sha256sum
    assert leaf_hash(b"L123456").hex() == (
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    # echo -n 014E3132334E343536 | xxd -r -p | sha256sum
    assert node_hash(b"N123", b"N456").hex() == (
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_leaf_and_node_hashes_are_domain_separated_and_ordered():
    one, two = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert one != two
    assert node_hash(one, two) != leaf_hash(one + two)
    assert node_hash(one, two) != node_hash(two, one)
    assert node_hash(one, two) == hashlib.sha256(b"\x01" + one + two).digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_known_tree_heads(size):
    assert root(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("size", "point"), [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8)])
def test_a_tree_splits_at_the_largest_power_of_two_below_its_size(size, point):
    assert split_point(size) == point


def test_a_frontier_grows_leaf_by_leaf_to_the_known_heads():
    frontier = Frontier()
    assert frontier.root() == EMPTY_ROOT
    for size, leaf in enumerate(LEAF_HASHES, start=1):
        frontier.append(leaf)
        assert (frontier.size, frontier.root()) == (size, ROOTS[size - 1])
    assert len(frontier.nodes) == 1 and frontier.nodes[0] == ROOTS[7]


def test_a_frontier_keeps_one_subtree_per_bit_of_its_size():
    frontier = Frontier()
    for leaf in LEAF_HASHES[:7]:
        frontier.append(leaf)
    assert frontier.ranges() == [(0, 4), (4, 6), (6, 7)]
    assert frontier.nodes == [ROOTS[3], node_hash(LEAF_HASHES[4], LEAF_HASHES[5]), LEAF_HASHES[6]]
    # A frontier rebuilt from its nodes goes on exactly as the original.
    again = Frontier(7, frontier.nodes)
    again.append(LEAF_HASHES[7])
    assert again.root() == ROOTS[7]
    assert frontier.size == 7  # the copy did not share the original's state
    copy = frontier.copy()
    copy.append(LEAF_HASHES[7])
    assert (frontier.size, copy.size, frontier.root()) == (7, 8, ROOTS[6])
    assert Frontier(5, [ROOTS[3], LEAF_HASHES[4]]).ranges() == [(0, 4), (4, 5)]


def test_a_frontier_with_the_wrong_number_of_nodes_is_refused():
    with pytest.raises(ValueError, match="a tree of 3 leaves has 2 frontier nodes"):
        Frontier(3, [ROOTS[0]])
    with pytest.raises(ValueError):
        Frontier(0, [ROOTS[0]])


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_known_inclusion_proofs(index, size, path):
    assert inclusion_proof(index, size, SUBTREE) == path
    assert verify_inclusion(index, size, LEAF_HASHES[index], path, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_known_consistency_proofs(old, new, proof):
    assert consistency_proof(old, new, SUBTREE) == proof
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def test_a_single_leaf_tree_needs_no_proof():
    assert inclusion_proof(0, 1, SUBTREE) == []
    assert verify_inclusion(0, 1, LEAF_HASHES[0], [], LEAF_HASHES[0])
    assert not verify_inclusion(0, 1, LEAF_HASHES[0], [], LEAF_HASHES[1])
    assert not verify_inclusion(0, 1, b"", [], b"")  # not hashes at all


def test_proofs_over_a_list_offset_into_the_tree():
    subtree = leaves_subtree(LEAF_HASHES[4:], offset=4)
    assert subtree(4, 8) == node_hash(
        node_hash(LEAF_HASHES[4], LEAF_HASHES[5]), node_hash(LEAF_HASHES[6], LEAF_HASHES[7])
    )
    assert subtree(6, 7) == LEAF_HASHES[6]


def test_proofs_for_every_leaf_and_every_prefix_of_larger_trees_verify():
    leaves = [leaf_hash(bytes([n])) for n in range(37)]
    for size in range(1, len(leaves) + 1):
        head = root(leaves[:size])
        subtree = leaves_subtree(leaves)
        for index in range(size):
            proof = inclusion_proof(index, size, subtree)
            assert verify_inclusion(index, size, leaves[index], proof, head)
        for old in range(size + 1):
            proof = consistency_proof(old, size, subtree)
            assert verify_consistency(old, size, root(leaves[:old]), head, proof)


def test_proofs_of_leaves_outside_the_tree_are_refused():
    for index, size in ((0, 0), (8, 8), (-1, 8)):
        with pytest.raises(ValueError, match="is not in a tree of"):
            inclusion_proof(index, size, SUBTREE)
    with pytest.raises(ValueError, match="cannot extend"):
        consistency_proof(5, 4, SUBTREE)
    with pytest.raises(ValueError, match="cannot extend"):
        consistency_proof(-1, 4, SUBTREE)
    assert consistency_proof(0, 8, SUBTREE) == []
    assert consistency_proof(8, 8, SUBTREE) == []


def _corrupted_inclusions(index, size, path):
    """Every way the transparency-dev verifier tests corrupt a good inclusion proof."""
    leaf, head = LEAF_HASHES[index], ROOTS[size - 1]
    yield index - 1, size, leaf, path, head
    yield index + 1, size, leaf, path, head
    yield index ^ 2, size, leaf, path, head
    yield index, size * 2, leaf, path, head
    yield index, size // 2, leaf, path, head
    yield index, size, b"WrongLeaf", path, head
    yield index, size, LEAF_HASHES[(index + 1) % 8], path, head
    yield index, size, leaf, path, EMPTY_ROOT
    yield index, size, leaf, path, SOME_HASH
    yield index, size, leaf, [*path, b""], head
    yield index, size, leaf, [*path, head], head
    yield index, size, leaf, [b"", *path], head
    yield index, size, leaf, [head, *path], head
    for n in range(len(path)):
        flipped = bytearray(path[n])
        flipped[0] ^= 8
        yield index, size, leaf, [*path[:n], bytes(flipped), *path[n + 1 :]], head
    if path:
        yield index, size, leaf, path[:-1], head
    if len(path) > 1:
        yield index, size, leaf, [SOME_HASH, path[0], *path[1:]], head


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_a_corrupted_inclusion_proof_fails(index, size, path):
    for probe in _corrupted_inclusions(index, size, path):
        assert not verify_inclusion(*probe), probe


def _corrupted_consistencies(old, new, proof):
    """Every way the transparency-dev verifier tests corrupt a good consistency proof."""
    old_root, new_root = ROOTS[old - 1], ROOTS[new - 1]
    yield old - 1, new, old_root, new_root, proof
    yield old + 1, new, old_root, new_root, proof
    yield old ^ 2, new, old_root, new_root, proof
    yield old, new * 2, old_root, new_root, proof
    yield old, new // 2, old_root, new_root, proof
    yield old, new, b"WrongRoot", new_root, proof
    yield old, new, old_root, b"WrongRoot", proof
    yield old, new, SOME_HASH, new_root, proof
    yield old, new, old_root, SOME_HASH, proof
    yield old, new, new_root, old_root, proof
    yield old, new, old_root, new_root, []
    yield old, new, old_root, new_root, [*proof, b""]
    yield old, new, old_root, new_root, [*proof, old_root]
    yield old, new, old_root, new_root, [*proof, new_root]
    yield old, new, old_root, new_root, [b"", *proof]
    yield old, new, old_root, new_root, [old_root, *proof]
    yield old, new, old_root, new_root, [new_root, *proof]
    yield old, new, old_root, new_root, [proof[0], *proof]
    yield old, new, old_root, new_root, proof[:-1]
    for n in range(len(proof)):
        flipped = bytearray(proof[n])
        flipped[0] ^= 16
        yield old, new, old_root, new_root, [*proof[:n], bytes(flipped), *proof[n + 1 :]]


@pytest.mark.parametrize(("old", "new", "proof"), [c for c in CONSISTENCY if c[2]])
def test_a_corrupted_consistency_proof_fails(old, new, proof):
    for probe in _corrupted_consistencies(old, new, proof):
        assert not verify_consistency(*probe), probe[:2]


@pytest.mark.parametrize(
    ("old", "new", "old_root", "new_root", "proof", "holds"),
    [
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], True),
        (0, 1, EMPTY_ROOT, ROOTS[0], [], True),  # the empty tree is a prefix of every tree
        (1, 1, ROOTS[0], ROOTS[0], [], True),
        (1, 1, ROOTS[0], ROOTS[1], [], False),  # same size, other root
        (0, 0, EMPTY_ROOT, ROOTS[1], [], False),
        (1, 0, ROOTS[0], EMPTY_ROOT, [], False),  # time runs backwards
        (2, 1, ROOTS[1], ROOTS[0], [], False),
        (1, 2, ROOTS[0], ROOTS[1], [], False),  # a real extension needs a proof
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], False),  # roots match, proof not empty
        (0, 1, EMPTY_ROOT, ROOTS[0], [EMPTY_ROOT], False),
        (1, 1, ROOTS[0], ROOTS[0], [EMPTY_ROOT], False),
        (-1, 1, ROOTS[0], ROOTS[0], [], False),
    ],
)
def test_trivial_consistency_cases(old, new, old_root, new_root, proof, holds):
    assert verify_consistency(old, new, old_root, new_root, proof) is holds


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_inclusion_in_an_empty_or_too_small_tree_fails(index, size):
    assert not verify_inclusion(index, size, SOME_HASH, [], b"")
    assert not verify_inclusion(index, size, b"", [], EMPTY_ROOT)
    assert not verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)


def test_a_proof_longer_than_the_tree_is_deep_fails():
    index, size, path = INCLUSION[2]  # leaf 2 of 3: a path of one node
    assert not verify_inclusion(index, size, LEAF_HASHES[index], [*path, SOME_HASH], ROOTS[2])
    old, new, proof = CONSISTENCY[3]  # 2 → 5
    assert not verify_consistency(old, new, ROOTS[1], ROOTS[4], [*proof, SOME_HASH])


def test_the_module_names_the_rfc_constants():
    assert merkle.HASH_SIZE == 32
    assert (merkle.LEAF_PREFIX, merkle.NODE_PREFIX) == (b"\x00", b"\x01")


@pytest.mark.parametrize("first", [0, 1, 3, 5, 8])
def test_a_frontier_extended_in_one_call_reaches_the_known_heads(first):
    """`extend` grows the tree as `append` does, leaf by leaf, from wherever it stands."""
    frontier = Frontier()
    frontier.extend(LEAF_HASHES[:first])
    frontier.extend(LEAF_HASHES[first:])
    assert (frontier.size, frontier.root()) == (8, ROOTS[7])
    assert frontier.nodes == [ROOTS[7]]
    seven = Frontier()
    seven.extend(LEAF_HASHES[:7])
    assert (seven.size, seven.root()) == (7, ROOTS[6])
    assert len(seven.nodes) == 3
