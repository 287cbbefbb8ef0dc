"""difflib_types - reply comparison helpers for test_differential_types.py.

Raw RESP2 reply splitting, order-insensitive comparisons (sets, multisets,
field/value pairs) and the validity checks for random replies (SPOP,
SRANDMEMBER, HRANDFIELD, ZRANDMEMBER).  No I/O here.
"""

import kevylib as K


def reply_end(raw, at):
    """Index just past the reply starting at `at` (explicit stack, no
    recursion)."""
    pending = 1
    stack = []
    while True:
        e = raw.index(b"\r\n", at)
        t = raw[at:at + 1]
        n = int(raw[at + 1:e]) if t in (b"$", b"*") else 0
        at = e + 2
        if t == b"$" and n >= 0:
            at += n + 2
        elif t == b"*" and n > 0:
            stack.append(pending - 1)
            pending = n
            continue
        pending -= 1
        while pending == 0:
            if not stack:
                return at
            pending = stack.pop()


def split_array(raw):
    """Raw bytes of each element of an array reply, or None if `raw` is not a
    (non-nil) array."""
    if not raw.startswith(b"*"):
        return None
    e = raw.index(b"\r\n")
    n = int(raw[1:e])
    if n < 0:
        return None
    at = e + 2
    out = []
    for _ in range(n):
        end = reply_end(raw, at)
        out.append(raw[at:end])
        at = end
    return out


def parse_or_none(raw):
    try:
        return K.parse(raw)
    except (ValueError, IndexError):
        return None


def flat_bulks(raw):
    """Parsed list of bulk strings, or None if the reply is not one."""
    v = parse_or_none(raw)
    if isinstance(v, list) and all(isinstance(x, bytes) for x in v):
        return v
    return None


def as_multiset(raw):
    v = flat_bulks(raw)
    return None if v is None else sorted(v)


def as_pairs(raw):
    v = flat_bulks(raw)
    if v is None or len(v) % 2:
        return None
    return sorted(zip(v[0::2], v[1::2]))


def same_multiset(r, k):
    a = as_multiset(r)
    return a is not None and a == as_multiset(k)


def same_pairs(r, k):
    a = as_pairs(r)
    return a is not None and a == as_pairs(k)


# ------------------------------------------------------------ random replies

def _int(b):
    try:
        return int(b)
    except (TypeError, ValueError):
        return None


def validate_random(args, raw, content):
    """Is `raw` a valid reply of the random command `args` against the
    collection `content` as it was just before?  content: for a set a sorted
    list of members, for a hash / zset a dict member -> value/score string;
    None when the key does not exist.  Returns None when valid, else a
    reason.  Only called when the reply is not an error."""
    name = args[0].upper()
    v = parse_or_none(raw)
    members = None if content is None else (
        list(content) if isinstance(content, dict) else content)
    size = 0 if members is None else len(members)
    withvals = len(args) > 3 and args[3].upper() in (b"WITHVALUES", b"WITHSCORES")
    if len(args) == 2:                      # single draw
        if size == 0:
            return None if v is None else "expected nil for an empty key"
        if not isinstance(v, bytes):
            return "expected a bulk string"
        return None if v in members else "%r is not a member" % v
    n = _int(args[2])
    if n is None:
        return "count %r did not error" % args[2]
    if not isinstance(v, list) or not all(isinstance(x, bytes) for x in v):
        return "expected an array of bulk strings"
    step = 2 if withvals else 1
    if len(v) % step:
        return "odd length with values"
    got = v[0::step]
    if size == 0:
        return None if not got else "expected an empty array for an empty key"
    if n >= 0:
        want = min(n, size)
        if len(got) != want:
            return "expected %d elements, got %d" % (want, len(got))
        if len(set(got)) != len(got):
            return "repeated members with a positive count"
    else:
        if len(got) != -n:
            return "expected %d elements, got %d" % (-n, len(got))
    for m in got:
        if m not in members:
            return "%r is not a member" % m
    if withvals:
        for m, val in zip(v[0::2], v[1::2]):
            if content[m] != val:
                return "value of %r is %r, expected %r" % (m, val, content[m])
    return None


def popped_members(args, raw):
    """Members an SPOP reply removed (list of bytes)."""
    v = parse_or_none(raw)
    if isinstance(v, bytes):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, bytes)]
    return []
