"""Surge clustering: group near-duplicate tips so an analyst sees one cluster, not 400 rows.

This module is pure: no database, no clock, no I/O. It uses only the standard library and
numpy.

Two tips belong to the same cluster when a chain of links joins them (single linkage,
computed as connected components). A link is any one of:

1. **person** - both tips name the same linked person (``person_id`` equal, neither None)
   and were received within :data:`PERSON_WINDOW` of each other;
2. **place** - both tips have the same :func:`place_key` (not None) and were received within
   :data:`PLACE_WINDOW`;
3. **text** - the MinHash estimate of the Jaccard similarity of their character n-gram
   shingles is at least :data:`TEXT_THRESHOLD`, and they were received within
   :data:`TEXT_WINDOW`.

Text similarity, in steps:

- :func:`normalize_text` casefolds, folds compatibility characters (NFKC) and turns every
  run of whitespace or punctuation into one space.
- :func:`shingles` hashes every run of :data:`NGRAM` consecutive characters with a fixed
  polynomial hash and the splitmix64 finalizer, all in wrapping 64-bit integer arithmetic.
  The result is the same in every process and on every machine (Python's own ``hash()`` is
  randomized per process and is never used).
- :func:`signature` keeps, for each of :data:`NUM_PERM` multiply-add-shift hash functions,
  the smallest hash over the shingles (MinHash), as ``NUM_PERM`` little-endian ``uint32``
  values (512 bytes). The fraction of equal positions in two signatures estimates the
  Jaccard similarity of the two shingle sets (:func:`similarity`).
- :func:`band_keys` cuts a signature into :data:`BANDS` bands of :data:`ROWS` values and
  hashes each band into a short string. Texts whose similarity is well above
  ``(1 / BANDS) ** (1 / ROWS)`` (about 0.42) share at least one key with high probability,
  so a database can find candidates with an indexed equality look-up; candidates are then
  checked with :func:`similarity`.

:func:`cluster` does the same for a whole batch with numpy: signatures for thousands of
tips per matrix operation, band collisions by sorting, and time windows by comparing each
tip with its nearest neighbours in time inside a bucket. Nothing is quadratic in the number
of tips.

Parameters were chosen on the labelled synthetic set of ``bench/surge_data.py`` (see
``bench/README.md``, section "Surge clustering"):

- :data:`NGRAM` = 5 characters: on 100,000 labelled tips (``bench/surge.py --sweep``),
  3- and 4-grams made different incidents with similar wording look alike (pairwise
  precision 0.98 at threshold 0.6, 0.84-0.90 at 0.5); 6-grams let typos destroy more
  shingles (recall 0.962 against 0.966 at 0.6). 5-grams at 0.6 gave precision 1.0000 and
  recall 0.966.
- :data:`NUM_PERM` = 128: the standard error of the estimate is ``sqrt(J (1 - J) / 128)``,
  0.043 at J = 0.6, small next to the gap between near-duplicates and unrelated tips; the
  signature is 512 bytes and still cheap to compute (not swept: it fixes the signature
  format).
- :data:`BANDS` x :data:`ROWS` = 32 x 4: the chance that a pair becomes a candidate,
  ``1 - (1 - J**4)**32``, is 0.99 at J = 0.6 (the threshold), 0.87 at J = 0.5 and 0.003 at
  J = 0.1, so almost every pair above the threshold is found while unrelated tips rarely
  collide. 16 x 8 would find only 24% of the pairs at J = 0.6.
- :data:`TEXT_THRESHOLD` = 0.6: on 100,000 labelled tips, 0.5 merged 14 pairs of
  different incidents described with the same stock wording ("a man in a red hoodie was
  shouting threats and waving a gun outside X") into each other (pairwise precision 0.953);
  0.6 removed all but one (precision 0.99997) for 0.7 points of recall; 0.7 cost 3.6 points
  of recall for nothing more.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDS",
    "NGRAM",
    "NUM_PERM",
    "PERSON_WINDOW",
    "PLACE_WINDOW",
    "ROWS",
    "TEXT_THRESHOLD",
    "TEXT_WINDOW",
    "Reason",
    "Tip",
    "band_keys",
    "cluster",
    "explain",
    "normalize_text",
    "place_key",
    "shingles",
    "signature",
    "similarity",
]

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

NGRAM = 5
"""Characters per shingle (after :func:`normalize_text`)."""

NUM_PERM = 128
"""MinHash hash functions, i.e. ``uint32`` values in a signature."""

BANDS = 32
"""LSH bands; :func:`band_keys` returns this many keys."""

ROWS = 4
"""Signature values per band (``BANDS * ROWS == NUM_PERM``)."""

MIN_TEXT_CHARS = 32
"""A normalized text shorter than this has no signature: too short to compare. Measured:
short tips of different events ("knife at Thomas Community Ctr??" and "knife at Barr
Community Ctr??") scored above the threshold; at 32 characters (about six words) such
pairs no longer link, and short tips still join through their place or person."""

MAX_TEXT_CHARS = 20_000
"""Only the first this many normalized characters of a text enter its signature, which
bounds the memory one text can take (20,000 x NUM_PERM x 8 bytes = 20 MiB)."""

TEXT_THRESHOLD = 0.6
"""Estimated Jaccard similarity at or above which two tips are "similar text"."""

PERSON_WINDOW = timedelta(days=30)
"""Tips naming the same linked person at most this far apart are linked."""

PLACE_WINDOW = timedelta(hours=48)
"""Tips about the same place at most this far apart are linked."""

TEXT_WINDOW = timedelta(days=7)
"""Tips with similar text at most this far apart are linked."""

NEIGHBOURS = 4
"""In :func:`cluster`, each tip is compared with this many following tips (in time) of each
band bucket. Members of a large bucket are near-duplicates of each other, so linking each
one to a few neighbours already joins the whole bucket; this keeps the work linear."""

_SCHEME = "m1"
"""Prefix of every band key; change it when any parameter above changes, so keys stored
under old parameters never match new ones."""

assert BANDS * ROWS == NUM_PERM

_MASK64 = (1 << 64) - 1
_POLY = np.uint64(0x100000001B3)  # odd multiplier of the polynomial shingle hash
_SHINGLE_CHUNK = 1 << 17  # shingles per MinHash matrix (x NUM_PERM x 8 bytes = 128 MiB)
_PAIR_CHUNK = 1 << 17  # candidate pairs compared per step


def _splitmix64_int(x: int) -> int:
    """The splitmix64 finalizer on a Python int (used to derive fixed constants)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _mix(z: U64) -> U64:
    """The splitmix64 finalizer, element-wise, in wrapping uint64 arithmetic (in place)."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


# Multiply-add-shift hash functions h_k(x) = ((a_k * x + b_k) mod 2**64) >> 32 for 32-bit x:
# a 2-independent family. The constants come from integer arithmetic only, so they never
# depend on a random number generator's version.
_PERM_A = np.array(
    [_splitmix64_int(2 * k + 1) | 1 for k in range(NUM_PERM)], dtype=np.uint64
).reshape(1, NUM_PERM)
_PERM_B = np.array([_splitmix64_int(2 * k + 2) for k in range(NUM_PERM)], dtype=np.uint64).reshape(
    1, NUM_PERM
)
_BAND_SEED = np.array(
    [_splitmix64_int(0xBA4D0000 + b) for b in range(BANDS)], dtype=np.uint64
).reshape(1, BANDS)


@dataclass(frozen=True)
class Tip:
    """What clustering needs from a tip: identity, receipt time, narrative, place, person."""

    id: int
    at: datetime
    text: str
    location: str = ""
    person_id: int | None = None


@dataclass(frozen=True)
class Reason:
    """Why a tip joined its cluster: a link of ``kind`` to tip ``other_id``.

    ``kind`` is ``"person"``, ``"place"`` or ``"text"``; ``score`` is the estimated Jaccard
    similarity for ``"text"`` and None otherwise.
    """

    kind: str
    other_id: int
    score: float | None


# --------------------------------------------------------------------------- text


_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Casefold, fold compatibility characters, and collapse whitespace and punctuation.

    Every run of characters that are not letters or digits becomes a single space;
    leading and trailing spaces are removed.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def _codepoints(text: str) -> U64:
    """The code points of ``text`` as uint64."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def _ngram_hashes(cp: U64) -> U64:
    """A stable 64-bit hash of every run of NGRAM consecutive code points in ``cp``."""
    count = cp.shape[0] - NGRAM + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = cp[:count].copy()
    for k in range(1, NGRAM):
        h *= _POLY
        h += cp[k : k + count]
    return _mix(h)


def shingles(text: str) -> U32:
    """The distinct hashed character n-grams of the normalized text, sorted (uint32).

    The hash is a fixed polynomial over code points followed by the splitmix64 finalizer,
    truncated to 32 bits: identical in every process. A text with fewer than :data:`NGRAM`
    characters after normalization has no shingles.
    """
    hashes = _ngram_hashes(_codepoints(normalize_text(text)))
    return np.unique((hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def _minhash_rows(values: U64, starts: I64) -> U32:
    """MinHash rows for consecutive groups of shingle values (uint64 holding 32-bit values).

    ``starts`` are the offsets of the groups in ``values`` (increasing, every group
    non-empty); returns one row of NUM_PERM uint32 per group. The matrix is laid out one
    hash function per row so that the per-group minimum runs along contiguous memory
    (several times faster than reducing along the other axis).
    """
    m = _PERM_A.reshape(NUM_PERM, 1) * values.reshape(1, -1)
    m += _PERM_B.reshape(NUM_PERM, 1)
    m >>= np.uint64(32)
    return np.minimum.reduceat(m, starts, axis=1).T.astype(np.uint32)


def signature(text: str) -> bytes | None:
    """The MinHash signature of ``text``: NUM_PERM little-endian uint32 values (512 bytes).

    None when the normalized text is shorter than :data:`MIN_TEXT_CHARS` characters: such
    tips ("gun at school") are too short for text similarity to mean anything.
    """
    rows, present = _signature_matrix([text])
    if not present[0]:
        return None
    return bytes(rows[0].astype("<u4").tobytes())


def _signature_matrix(texts: Sequence[str]) -> tuple[U32, npt.NDArray[np.bool_]]:
    """MinHash signatures of many texts at once.

    Returns a (len(texts), NUM_PERM) uint32 matrix and a boolean mask of the texts that have
    a signature (rows of the others are zero). Texts are processed in chunks so that one
    MinHash matrix holds at most ``_SHINGLE_CHUNK`` shingles.
    """
    n = len(texts)
    out = np.zeros((n, NUM_PERM), dtype=np.uint32)
    present = np.zeros(n, dtype=bool)
    normalized = [normalize_text(t)[:MAX_TEXT_CHARS] for t in texts]
    lengths = np.fromiter((len(t) for t in normalized), dtype=np.int64, count=n)
    present[:] = lengths >= MIN_TEXT_CHARS
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return out, present
    counts = lengths[idx] - NGRAM + 1
    # Cut the documents into chunks of about _SHINGLE_CHUNK shingles: a document goes to the
    # chunk in which its first shingle falls.
    chunk_of = (np.cumsum(counts) - counts) // _SHINGLE_CHUNK
    edges = np.concatenate(([0], np.flatnonzero(np.diff(chunk_of)) + 1, [idx.size]))
    for lo, hi in itertools.pairwise(edges.tolist()):
        docs = idx[lo:hi]
        doc_len = lengths[docs]
        cp = _codepoints("".join(normalized[i] for i in docs))
        hashes = _ngram_hashes(cp)
        # Keep only n-grams that lie inside one document.
        doc_start = np.concatenate(([0], np.cumsum(doc_len)[:-1]))
        doc_of = np.repeat(np.arange(docs.size), doc_len)[: hashes.shape[0]]
        pos = np.arange(hashes.shape[0]) - doc_start[doc_of]
        keep = pos <= (doc_len - NGRAM)[doc_of]
        values = hashes[keep] & np.uint64(0xFFFFFFFF)
        group_start = np.concatenate(([0], np.cumsum(doc_len - NGRAM + 1)[:-1]))
        out[docs] = _minhash_rows(values, group_start.astype(np.int64))
    return out, present


def _as_row(sig: bytes) -> U32:
    """A signature's bytes as a uint32 row (checks the length)."""
    if len(sig) != 4 * NUM_PERM:
        raise ValueError(f"a signature has {4 * NUM_PERM} bytes, not {len(sig)}")
    return np.frombuffer(sig, dtype="<u4").astype(np.uint32)


def _band_hashes(sigs: U32) -> U64:
    """One stable 64-bit hash per band of each signature row: (n, BANDS) uint64."""
    rows = sigs.reshape(sigs.shape[0], BANDS, ROWS).astype(np.uint64)
    h = np.broadcast_to(_BAND_SEED, (sigs.shape[0], BANDS)).copy()
    for r in range(ROWS):
        h ^= rows[:, :, r]
        h = _mix(h)
    return h


def band_keys(sig: bytes) -> list[str]:
    """The LSH band keys of a signature: BANDS strings of 22 characters.

    Each key is the scheme tag, the band number and a 64-bit hash of the band's values, for
    example ``"m1.07.0123456789abcdef"``. Two texts whose true similarity is at or above
    :data:`TEXT_THRESHOLD` (0.6) share at least one key with probability 0.99 or more.
    """
    hashes = _band_hashes(_as_row(sig).reshape(1, NUM_PERM))[0]
    return [f"{_SCHEME}.{b:02d}.{int(h):016x}" for b, h in enumerate(hashes)]


def similarity(a: bytes, b: bytes) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal values."""
    return float(np.count_nonzero(_as_row(a) == _as_row(b))) / NUM_PERM


# -------------------------------------------------------------------------- places

_ABBREVIATIONS = {
    "st": "street",
    "str": "street",
    "ave": "avenue",
    "av": "avenue",
    "rd": "road",
    "blvd": "boulevard",
    "dr": "drive",
    "ln": "lane",
    "ct": "court",
    "pl": "place",
    "pkwy": "parkway",
    "hwy": "highway",
    "sq": "square",
    "ctr": "center",
    "centre": "center",
    "cntr": "center",
    "hs": "high school",
    "ms": "middle school",
    "es": "elementary school",
    "elem": "elementary",
    "jr": "junior",
    "sr": "senior",
    "univ": "university",
    "mt": "mount",
    "ft": "fort",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    "hosp": "hospital",
    "apt": "apartment",
    "apts": "apartments",
    "bldg": "building",
    "no": "number",
}


def _words(text: str) -> frozenset[str]:
    """The set of space-separated words in ``text``."""
    return frozenset(text.split())


_STOPWORDS = _words(
    "the a an at near by in on of outside inside behind around next to across from front "
    "corner and or beside close between opposite off number"
)

_GENERIC = _words(
    "school high middle elementary junior senior street road avenue drive lane boulevard "
    "park mall home house store shop church downtown city town area parking lot garage "
    "building office online internet web unknown na none somewhere here there my our his "
    "her their your work campus bus station stop gym cafeteria hallway bathroom restroom "
    "classroom class library field stadium north south east west northeast northwest "
    "southeast southwest center apartment apartments neighborhood neighbourhood place "
    "university college hospital restaurant bar club party game unsure not sure idk dont know"
)


@functools.lru_cache(maxsize=65536)
def place_key(location: str) -> str | None:
    """A normalized key for a free-text place, or None when it is empty or too vague.

    Accents are removed, case is folded, punctuation is dropped, common abbreviations are
    expanded (``St.`` to ``street``, ``HS`` to ``high school``), filler words (``the``,
    ``at``, ``near``...) are dropped, and the remaining words are sorted, so word order and
    spelling variants give the same key. A place made only of generic words (``school``,
    ``the mall``, ``downtown``, ``online``) or of numbers is too vague and gives None.
    """
    text = unicodedata.normalize("NFKD", location)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("'", "").replace("\u2019", "").replace("&", " and ")
    words: list[str] = []
    for position, word in enumerate(_NON_WORD.sub(" ", text).split()):
        if word == "st" and position == 0:
            words.append("saint")  # "St. Mary's Church"
            continue
        words.extend(_ABBREVIATIONS.get(word, word).split())
    kept = {w for w in words if w not in _STOPWORDS}
    if not any(w not in _GENERIC and not w.isdigit() for w in kept):
        return None
    return " ".join(sorted(kept))


# ------------------------------------------------------------------------ clustering


def _timestamps(tips: Sequence[Tip]) -> I64:
    """Receipt times as integer microseconds since the epoch (aware datetimes only)."""
    out = np.empty(len(tips), dtype=np.int64)
    for i, tip in enumerate(tips):
        if tip.at.tzinfo is None or tip.at.utcoffset() is None:
            raise ValueError(f"tip {tip.id}: receipt time must be timezone-aware")
        out[i] = round(tip.at.timestamp() * 1_000_000)
    return out


def _window_us(window: timedelta) -> int:
    """A window in integer microseconds."""
    return window // timedelta(microseconds=1)


def _key_edges(keys: I64, times: I64, ids: I64, window: int) -> tuple[I64, I64]:
    """Link each tip to the next tip in time with the same key (key >= 0) within ``window``.

    Within one key, linking consecutive tips whose gap is at most the window gives exactly
    the connected components of "within the window of each other", chains included.
    """
    sel = np.flatnonzero(keys >= 0)
    if sel.size < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = sel[np.lexsort((ids[sel], times[sel], keys[sel]))]
    k, t = keys[order], times[order]
    ok = (k[1:] == k[:-1]) & (t[1:] - t[:-1] <= window)
    return order[:-1][ok], order[1:][ok]


def _text_edges(
    sigs: U32, present: npt.NDArray[np.bool_], times: I64, ids: I64
) -> tuple[I64, I64, npt.NDArray[np.float64]]:
    """Pairs of tips with similar text within TEXT_WINDOW, and their similarity.

    Candidates: within each LSH band bucket, ordered by time (then id), each tip and its next
    NEIGHBOURS tips inside the window. Candidates are then checked against TEXT_THRESHOLD.
    """
    idx = np.flatnonzero(present)
    empty = np.zeros(0, np.int64)
    if idx.size < 2:
        return empty, empty, np.zeros(0, np.float64)
    window = _window_us(TEXT_WINDOW)
    bands = _band_hashes(sigs[idx])
    t, tid = times[idx], ids[idx]
    # One time-then-id order for all bands; a stable sort by band hash keeps it inside buckets.
    base = np.lexsort((tid, t))
    pairs: list[npt.NDArray[np.int64]] = []
    n = np.int64(len(ids))
    for b in range(BANDS):
        order = base[np.argsort(bands[base, b], kind="stable")]
        h, ts = bands[order, b], t[order]
        for d in range(1, NEIGHBOURS + 1):
            if order.size <= d:
                break
            ok = (h[d:] == h[:-d]) & (ts[d:] - ts[:-d] <= window)
            if not ok.any():
                break
            u = idx[order[:-d][ok]]
            v = idx[order[d:][ok]]
            lo, hi = np.minimum(u, v), np.maximum(u, v)
            pairs.append(lo * n + hi)
    if not pairs:
        return empty, empty, np.zeros(0, np.float64)
    codes = np.unique(np.concatenate(pairs))
    u_all, v_all = codes // n, codes % n
    keep_u: list[I64] = []
    keep_v: list[I64] = []
    keep_s: list[npt.NDArray[np.float64]] = []
    for lo in range(0, codes.size, _PAIR_CHUNK):
        u, v = u_all[lo : lo + _PAIR_CHUNK], v_all[lo : lo + _PAIR_CHUNK]
        score = np.count_nonzero(sigs[u] == sigs[v], axis=1) / NUM_PERM
        ok = score >= TEXT_THRESHOLD
        keep_u.append(u[ok])
        keep_v.append(v[ok])
        keep_s.append(score[ok])
    return np.concatenate(keep_u), np.concatenate(keep_v), np.concatenate(keep_s)


@dataclass(frozen=True)
class _Edges:
    """All links of a batch: endpoints (indexes into the batch), kind and score."""

    u: I64
    v: I64
    kind: npt.NDArray[np.int8]  # 0 person, 1 place, 2 text
    score: npt.NDArray[np.float64]  # NaN unless text


_KINDS = ("person", "place", "text")


def _edges(tips: Sequence[Tip]) -> _Edges:
    """Compute every link between the tips of a batch (see the module docstring)."""
    ids = np.fromiter((t.id for t in tips), dtype=np.int64, count=len(tips))
    if np.unique(ids).size != ids.size:
        raise ValueError("tip ids must be unique")
    times = _timestamps(tips)

    persons = np.fromiter(
        (-1 if t.person_id is None else t.person_id for t in tips), dtype=np.int64
    )
    if (persons[[t.person_id is not None for t in tips]] < 0).any():
        raise ValueError("person ids must be non-negative")
    pu, pv = _key_edges(persons, times, ids, _window_us(PERSON_WINDOW))

    codes: dict[str, int] = {}
    place_codes = np.empty(len(tips), dtype=np.int64)
    for i, tip in enumerate(tips):
        key = place_key(tip.location) if tip.location else None
        place_codes[i] = -1 if key is None else codes.setdefault(key, len(codes))
    lu, lv = _key_edges(place_codes, times, ids, _window_us(PLACE_WINDOW))

    sigs, present = _signature_matrix([t.text for t in tips])
    tu, tv, ts = _text_edges(sigs, present, times, ids)

    return _Edges(
        u=np.concatenate((pu, lu, tu)),
        v=np.concatenate((pv, lv, tv)),
        kind=np.concatenate(
            (np.zeros(pu.size, np.int8), np.ones(lu.size, np.int8), np.full(tu.size, 2, np.int8))
        ),
        score=np.concatenate((np.full(pu.size + lu.size, np.nan), ts)),
    )


def _components(n: int, u: I64, v: I64) -> I64:
    """Connected components of an undirected graph: for each node, its smallest-index root.

    Alternates hooking (every root with an edge to a smaller root points to the smallest
    such root) and pointer jumping until no edge crosses two components. Each round at
    least halves the number of components that still have crossing edges.
    """
    parent = np.arange(n, dtype=np.int64)
    while True:
        pu, pv = parent[u], parent[v]
        cross = pu != pv
        if not cross.any():
            return parent
        lo = np.minimum(pu[cross], pv[cross])
        hi = np.maximum(pu[cross], pv[cross])
        np.minimum.at(parent, hi, lo)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def cluster(tips: Sequence[Tip]) -> dict[int, int]:
    """Cluster a batch of tips: tip id -> cluster label.

    The label is the smallest tip id in the cluster; a tip linked to nothing maps to its own
    id. The result depends only on the set of tips, not on their order. Raises ValueError
    for duplicate ids or naive receipt times.
    """
    if not tips:
        return {}
    return _labels(tips, _edges(tips))


def _labels(tips: Sequence[Tip], edges: _Edges) -> dict[int, int]:
    """Tip id -> smallest tip id of its connected component under ``edges``."""
    ids = np.fromiter((t.id for t in tips), dtype=np.int64, count=len(tips))
    root = _components(len(tips), edges.u, edges.v)
    smallest = ids.copy()
    np.minimum.at(smallest, root, ids)
    return dict(zip(ids.tolist(), smallest[root].tolist(), strict=True))


def explain(tips: Sequence[Tip]) -> dict[int, Reason]:
    """For each tip that is not the label of its cluster, one link that joins it.

    Following the links from any member leads to the cluster's label (smallest id): the
    reasons form a tree rooted there, found by breadth-first search over all links,
    preferring person links, then place, then text with the highest score.
    """
    if not tips:
        return {}
    edges = _edges(tips)
    ids = [t.id for t in tips]
    adjacency: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    order = np.lexsort((-np.nan_to_num(edges.score, nan=2.0), edges.kind))
    for e in order.tolist():
        a, b = int(edges.u[e]), int(edges.v[e])
        kind, score = int(edges.kind[e]), float(edges.score[e])
        adjacency[a].append((b, kind, score))
        adjacency[b].append((a, kind, score))
    labels = _labels(tips, edges)
    index_of = {tip_id: i for i, tip_id in enumerate(ids)}
    reasons: dict[int, Reason] = {}
    for label in sorted(set(labels.values())):
        start = index_of[label]
        seen = {start}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for there, kind, score in adjacency.get(here, ()):
                if there in seen:
                    continue
                seen.add(there)
                queue.append(there)
                reasons[ids[there]] = Reason(
                    kind=_KINDS[kind],
                    other_id=ids[here],
                    score=None if kind != 2 else round(score, 4),
                )
    return reasons
