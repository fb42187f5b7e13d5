"""The one place photo files are written and read (DESIGN.md: files go through one storage interface).

The default keeps them in a directory under instance/ (``PHOTO_STORAGE_DIR``), never under static/: a
photo is only ever served by a view that checks the reader's role and audits the view. Another store
(object storage) would implement the same two methods. Several workers or hosts must share the directory.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from flask import current_app

KEY_SHAPE = re.compile(r"[0-9a-f]{32}\.(jpg|png)")


class PhotoStoreError(RuntimeError):
    """The store is misconfigured, or a key names no file."""


class PhotoStore(Protocol):
    def save(self, data: bytes, extension: str) -> str:
        """Keep ``data``; return the key that reads it back."""

    def read(self, key: str) -> bytes:
        """The bytes kept under ``key``."""


class DirectoryStore:
    """Files named by random keys, two levels deep, owner-readable only, written whole or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not KEY_SHAPE.fullmatch(key):
            raise PhotoStoreError(f"not a photo key: {key!r}")
        return self.root / key[:2] / key

    def save(self, data: bytes, extension: str) -> str:
        key = f"{secrets.token_hex(16)}.{extension}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".part")
        # Written aside then renamed: a reader never sees half a photo, and a crash leaves no torn file.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
        return key

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise PhotoStoreError(f"no file for {key}") from None


def photo_store() -> PhotoStore:
    """The app's store. Refuses a directory inside static/, where the web server would hand photos to anyone."""
    root = Path(current_app.config["PHOTO_STORAGE_DIR"]).resolve()
    static = Path(current_app.static_folder or "static").resolve()
    if root == static or static in root.parents:
        raise PhotoStoreError("PHOTO_STORAGE_DIR must not be inside the static folder: photos would be public.")
    return DirectoryStore(root)
