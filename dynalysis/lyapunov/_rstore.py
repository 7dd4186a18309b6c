"""The triangular factors ``R_t`` of the forward QR pass, kept for Ginelli's backward pass.

`RStore` receives one ``R_t (B, k, k)`` per step in forward order and gives them back in
reverse order. They are collected in device chunks of at most 16 MiB; full chunks move to
host memory until ``max_memory`` bytes are held there, and beyond that to one anonymous
temporary file (deleted when the store is closed or the process ends), read back one chunk
at a time with ``readinto`` (not a memory map, whose pages would count as resident). Peak
memory is therefore ``max_memory + 2 chunks``, whatever the number of steps.
"""
from __future__ import annotations

import tempfile

import numpy as np
import torch

__all__ = ["RStore"]

_CHUNK_BYTES = 2**24  # one chunk of R factors: 16 MiB
_MAX_CHUNK = 1024  # steps per chunk


class RStore:
    """``push(R)`` in forward order, then ``reversed_chunks()`` yields ``(t0, R[c, B, k, k])``
    from the last chunk to the first (``R[j]`` is the factor of step ``t0 + j``)."""

    def __init__(self, B: int, k: int, *, first_step: int, max_memory: int, dtype, device):
        self.shape = (B, k, k)
        self.step_bytes = B * k * k * torch.finfo(dtype).bits // 8
        self.chunk = max(1, min(_MAX_CHUNK, _CHUNK_BYTES // self.step_bytes))
        self.buf = torch.empty(self.chunk, B, k, k, dtype=dtype, device=device)
        self.n = 0
        self.first_step = first_step
        self.max_memory = max_memory
        self.in_memory: list[np.ndarray] = []  # the first chunks, on the host
        self.held = 0
        self.file = None  # the chunks beyond max_memory, in order
        self.host = None  # host buffer of one chunk, for the file
        self.on_disk: list[tuple[int, int]] = []  # (byte offset, steps) of each chunk in the file
        self.spilled_bytes = 0

    def push(self, R) -> None:
        self.buf[self.n].copy_(R)
        self.n += 1
        if self.n == self.chunk:
            self._move()

    def _move(self) -> None:
        if self.n == 0:
            return
        nbytes = self.n * self.step_bytes
        if self.held + nbytes <= self.max_memory and self.file is None:
            self.in_memory.append(self.buf[: self.n].cpu().numpy().copy())
            self.held += nbytes
        else:
            if self.file is None:
                self.file = tempfile.TemporaryFile(prefix="dynalysis-clv-R-")
                # one host buffer for every write and read: repeated large allocations would
                # fragment the C heap and make the peak grow with the number of chunks
                self.host = torch.empty(self.buf.shape, dtype=self.buf.dtype)
            self.on_disk.append((self.file.tell(), self.n))
            self.host[: self.n].copy_(self.buf[: self.n])
            self.file.write(memoryview(self.host[: self.n].numpy()).cast("B"))
            self.spilled_bytes += nbytes
        self.n = 0

    def reversed_chunks(self):
        """``(t0, R)`` from the last chunk to the first; ``R`` on the store's device, valid until
        the next chunk is requested (chunks from the file share one buffer)."""
        self._move()
        counts = [len(b) for b in self.in_memory] + [n for _, n in self.on_disk]
        starts = self.first_step + np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
        device = self.buf.device
        for i in range(len(counts) - 1, -1, -1):
            if i >= len(self.in_memory):
                offset, n = self.on_disk[i - len(self.in_memory)]
                self.file.seek(offset)
                self.file.readinto(memoryview(self.host[:n].numpy()).cast("B"))
                block = self.host[:n]
            else:
                block = torch.from_numpy(self.in_memory[i])
            yield int(starts[i]), block.to(device)

    def close(self) -> None:
        self.in_memory.clear()
        if self.file is not None:
            self.file.close()
            self.file = None
