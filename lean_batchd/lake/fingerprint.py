"""Project fingerprints that see every change that matters, updated in O(1) per file.

The reference fingerprint (file count and newest mtime) misses an edit that
keeps the mtime, a rename, and a delete paired with an add. We keep its
fields and add a digest of the whole source set: a sum, modulo 2**256, of
one hash per (module, path, content digest). A sum is order-free, so adding,
removing or replacing one module updates it without touching the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_MOD = 1 << 256


def _entry(module: str, path: str, digest: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{module}\x00{path}\x00{digest}".encode()).digest(), "big")


class SourceSetDigest:
    """A multiset hash of (module, path, digest) entries (AdHash)."""

    def __init__(self) -> None:
        self._sum = 0
        self.count = 0

    def add(self, module: str, path: str, digest: str) -> None:
        self._sum = (self._sum + _entry(module, path, digest)) % _MOD
        self.count += 1

    def remove(self, module: str, path: str, digest: str) -> None:
        self._sum = (self._sum - _entry(module, path, digest)) % _MOD
        self.count -= 1

    def hexdigest(self) -> str:
        return hashlib.sha256(f"{self.count}:{self._sum:064x}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ProjectFingerprint:
    toolchain: str
    lakefile_digest: str
    manifest_digest: str | None
    source_count: int
    source_max_mtime_ns: int
    source_digest: str
    """Digest of every local module's name, path and content."""
    dependency_digest: str
    """The same over the dependency modules the local ones reach."""

    @property
    def digest(self) -> str:
        """Everything but the mtime, which `touch` changes without changing anything Lean sees."""
        return hashlib.sha256(
            "\x00".join(
                [
                    self.toolchain,
                    self.lakefile_digest,
                    self.manifest_digest or "",
                    self.source_digest,
                    self.dependency_digest,
                ]
            ).encode()
        ).hexdigest()

    def to_json(self) -> dict[str, object]:
        return {
            "toolchain": self.toolchain,
            "lakefile_digest": self.lakefile_digest,
            "manifest_digest": self.manifest_digest,
            "source_count": self.source_count,
            "source_max_mtime_ns": self.source_max_mtime_ns,
            "source_digest": self.source_digest,
            "dependency_digest": self.dependency_digest,
            "digest": self.digest,
        }
