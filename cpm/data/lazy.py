"""Row access to arrays on disk (.npy, uncompressed .npz members) without loading them.

The arrays are opened as memory maps (validates the header, dtype and size at once) but rows are read with
`os.pread`: pages touched through a mapping count towards the process RSS and stay mapped, so a training
epoch over a 7 GB NTU array would make the resident size grow to the file size; pread goes through the
page cache only. Instances pickle without their file handle, so DataLoader workers (fork or spawn) reopen.
"""
from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import numpy as np

from cpm.errors import CPMError


def open_npy(path: Path) -> np.memmap:
    """np.load(path, mmap_mode='r') with one-line errors for corrupt or truncated files."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise CPMError(f"{path}: not a readable .npy array ({err})") from None


def open_npz_member(path: Path, key: str) -> np.ndarray:
    """Member `key` of an .npz: a read-only memmap if stored uncompressed (np.savez), else loaded (savez_compressed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(key + ".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                with zf.open(info) as f:
                    return np.lib.format.read_array(f, allow_pickle=False)
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                raise ValueError("bad local zip header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = np.lib.format.read_magic(f)
            fmt = np.lib.format
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        if dtype.hasobject:
            raise ValueError("object arrays are not supported")
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as err:
        raise CPMError(f"{path}: cannot read member '{key}' ({err})") from None


class FileRows:
    """rows[i] -> array of shape `shape[1:]` read from a C-ordered array on disk; optional `to_sample` reshapes it."""

    def __init__(self, array: np.ndarray, path: Path, to_sample=None):
        self.path, self.shape, self.dtype, self.to_sample = Path(path), tuple(array.shape), array.dtype, to_sample
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * array.dtype.itemsize
        # pread needs the byte offset of a C-ordered memmap; anything else is indexed through the mapping
        self.offset = getattr(array, "offset", None) if array.flags.c_contiguous else None
        self._array = None if (self.offset is not None and hasattr(os, "pread")) else array
        self._fd, self._pid = None, None

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self):
        if self._array is not None and isinstance(self._array, np.memmap):
            raise CPMError(f"{self.path}: Fortran-ordered arrays cannot be sent to spawned workers; save it C-ordered")
        return {**self.__dict__, "_fd": None, "_pid": None}

    def __del__(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as one contiguous array (one read)."""
        if self._array is not None:
            return np.asarray(self._array[start:stop])
        if self._pid != os.getpid():  # first use in this process (forked workers must not share the fd's owner)
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        n = (stop - start) * self.row_bytes
        buf = os.pread(self._fd, n, self.offset + start * self.row_bytes)
        if len(buf) != n:
            raise CPMError(f"{self.path}: file is truncated at sample {start} (read {len(buf)} of {n} bytes)")
        return np.frombuffer(buf, dtype=self.dtype).reshape((stop - start,) + self.shape[1:])

    def __getitem__(self, i: int) -> np.ndarray:
        row = self.read(i, i + 1)[0]
        return self.to_sample(row) if self.to_sample is not None else row


class Subset:
    """data[keep[i]]: the rows that survived a scan (empty samples dropped)."""

    def __init__(self, data, keep: np.ndarray):
        self.data, self.keep = data, keep

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, i: int):
        return self.data[int(self.keep[i])]


def scan_rows(rows: FileRows, chunk_bytes: int = 64 << 20) -> np.ndarray:
    """Read the whole file in chunks (memory stays flat): error on NaN/inf, return the indices of non-empty rows."""
    step = max(1, chunk_bytes // max(rows.row_bytes, 1))
    row_size = rows.row_bytes // rows.dtype.itemsize
    keep = []
    for start in range(0, len(rows), step):
        stop = min(start + step, len(rows))
        block = rows.read(start, stop).reshape(stop - start, row_size)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            bad = start + int(np.flatnonzero(~finite)[0])
            raise CPMError(f"{rows.path}: sample {bad} has NaN/inf coordinates")
        keep.append(start + np.flatnonzero((block != 0).any(axis=1)))
    return np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
