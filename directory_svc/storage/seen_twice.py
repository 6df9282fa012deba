"""Which keyed hashes occur more than once in a stream, in fixed memory (a Bloom filter).

Used to find colliding homonymy keys in one projected scan: a ``$group`` on FerretDB 1.24
compares each document with every group found so far (quadratic: 200,000 listings took
longer than 17 minutes), and holding every key in a set would grow with the directory.
"""

from __future__ import annotations

BITS_LOG2 = 27
"""2**27 bits (16 MiB) per filter: under 0.5% false positives at 10 million keys."""
PROBES = 4


class SeenTwice:
    """Feed keys once each; ``repeated`` holds every key seen at least twice.

    Keys are blind indexes (HMAC output, 32 hex digits), already uniform, so the probe
    positions are slices of the key itself. A false positive only adds a key that occurred
    once: callers use the result as a pre-filter, never as the truth.
    """

    def __init__(self, bits_log2: int = BITS_LOG2) -> None:
        self._bits_log2 = bits_log2
        self._mask = (1 << bits_log2) - 1
        self._bits = bytearray(1 << (bits_log2 - 3))
        self.repeated: set[str] = set()

    def add(self, key: str) -> None:
        """Record one occurrence of ``key``."""
        value = int(key, 16)
        bits = self._bits
        present = True
        for _ in range(PROBES):
            position = value & self._mask
            value >>= self._bits_log2
            byte, bit = position >> 3, 1 << (position & 7)
            if not bits[byte] & bit:
                present = False
                bits[byte] |= bit
        if present:
            self.repeated.add(key)
