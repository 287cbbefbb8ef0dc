"""Shared pieces of the differential tests (test_differential.py,
test_differential_types.py): the differences from Redis both allow, reply
clipping for failure messages, and the weighted choice of the next generator.
"""


def is_int_in(b, lo, hi):
    """b is the canonical decimal text of an integer in [lo, hi]."""
    try:
        return lo <= int(b) <= hi and str(int(b)).encode() == b
    except ValueError:
        return False


# (name, args predicate, (redis_reply, kevy_reply) predicate, reason):
# differences every differential run accepts.  See docs/compatibility.md.
ALLOWED_DIFFERENCES = []


def clip(b, n=300):
    return b if len(b) <= n else b[:n] + b"...(%d bytes)" % len(b)


class WeightedGenMixin:
    """next_ops() for a generator with self.r (random.Random), self.gens
    [(fn, weight)], self.total_w and an arity_mutation(op) of its own: a
    weighted pick of a generator, and now and then one arity error."""

    def next_ops(self):
        x = self.r.random() * self.total_w
        for fn, w in self.gens:
            x -= w
            if x < 0:
                ops = fn()
                break
        else:
            ops = self.gens[0][0]()
        if self.r.random() < 0.03 and len(ops) == 1:
            ops = [self.arity_mutation(ops[0])]
        return ops
