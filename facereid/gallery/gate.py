"""Readers share the store's Chroma client; an erasure swaps it alone (facereid/gallery/erasure.py).

An erasure of an embedded store closes Chroma's client, scrubs the files and opens a new one;
a search that ran on the closed client meanwhile would fail. So the store's reads hold the gate
shared and the swap holds it alone. A waiting swap goes first: new reads wait for it, so a
stream of searches cannot hold it off, but a read nested in a read of the same thread (a scan
within a count) goes on, else the two would wait for each other. The swap is rare and short
(about a second at 100k faces); a read waits at most that.

The standard library has no shared lock and one ``threading.Condition`` does it: no dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ClientGate:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0  # threads reading
        self._waiting = 0  # swaps waiting for the readers to finish
        self._swapping = False
        self._depth = threading.local()  # this thread's nested reads

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        if depth == 0:
            with self._changed:
                while self._swapping or self._waiting:
                    self._changed.wait()
                self._readers += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if depth == 0:
                with self._changed:
                    self._readers -= 1
                    self._changed.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
            while self._swapping or self._readers:
                self._changed.wait()
            self._waiting -= 1
            self._swapping = True
        try:
            yield
        finally:
            with self._changed:
                self._swapping = False
                self._changed.notify_all()
