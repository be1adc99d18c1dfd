"""One fingerprint of the tracker's own code, for anything kept from an earlier run: kept results stand only while
the code that made them is unchanged (changed code builds and checks everything again, once)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

CODE_FOLDERS = tuple(Path(__file__).resolve().parent.parent / f for f in ("assets", "checks", "tracker"))


@cache
def code_sha256() -> str:
    """The sha256 of every Python file of the tracker's code and of the versions that shape a table: the libraries',
    Python's (its regular expressions) and its Unicode database's (normalising organisation names)."""
    import platform
    import unicodedata

    import duckdb
    import pandas as pd

    digest = hashlib.sha256(f"duckdb {duckdb.__version__} pandas {pd.__version__} python "
                            f"{platform.python_version()} unicode {unicodedata.unidata_version}".encode())
    for folder in CODE_FOLDERS:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(folder.parent).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
