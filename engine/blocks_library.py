"""The block library: shipped block definitions (``resources/blocks``) and the user's own
(``<data folder>/blocks``, the data folder being ``$DEEPWIRE_DATA_DIR`` or the platform's user
data folder). Qt-free: the palette lists :func:`list_blocks` and drops an entry into a design
with :func:`engine.editing.blocks.insert_block`.

Each library file holds one definition in the block file format (:func:`engine.io.dumps_block`:
the same JSON as a design's ``blocks`` entry, plus the definitions it uses). Loading never runs
code; a user file that cannot be read is listed with its one-line error, never fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.blocks import BlockDef
from engine.errors import DesignFormatError
from engine.io import load_block, save_block
from engine.runs import data_dir

#: The shipped block files (next to the templates, in the repository's resources).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "resources" / "blocks"
#: Largest number of user block files listed (a folder of thousands is not a library).
MAX_USER_BLOCKS = 1000


@dataclass(frozen=True)
class LibraryEntry:
    """One block file: its name, one-line description, whether shipped, and its path;
    ``error`` is the one-line reason when the file cannot be used."""

    name: str
    description: str
    shipped: bool
    path: Path
    error: str = ""


def user_blocks_dir() -> Path:
    """The folder the user's blocks are saved in: ``<data folder>/blocks``."""
    return data_dir() / "blocks"


def list_blocks(user_dir: Path | None = None) -> list[LibraryEntry]:
    """Shipped blocks, then the user's, each sorted by name (a user block never hides a
    shipped one: both are listed)."""
    entries = _entries(SHIPPED_DIR, shipped=True)
    folder = user_blocks_dir() if user_dir is None else user_dir
    return entries + _entries(folder, shipped=False)


def _entries(folder: Path, shipped: bool) -> list[LibraryEntry]:
    try:
        paths = sorted(p for p in folder.glob("*.json") if p.is_file())[:MAX_USER_BLOCKS]
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            defn, _used = load_block(path)
        except (DesignFormatError, OSError) as exc:
            out.append(LibraryEntry(path.stem, "", shipped, path, str(exc).splitlines()[0]))
            continue
        out.append(LibraryEntry(defn.name, defn.description, shipped, path))
    return out


def load_entry(entry: LibraryEntry) -> tuple[BlockDef, dict[str, BlockDef]]:
    """The definition of a library entry and the definitions it uses (DesignFormatError when
    the file is unreadable)."""
    return load_block(entry.path)


def save_user_block(
    defn: BlockDef, blocks: dict[str, BlockDef] | None = None, user_dir: Path | None = None
) -> Path:
    """Save ``defn`` (with the definitions it uses from ``blocks``) into the user's block folder
    as ``<name>.json``, atomically (an old file of that name is replaced only by a complete
    new one); returns the path."""
    folder = user_blocks_dir() if user_dir is None else user_dir
    os.makedirs(folder, exist_ok=True)
    path = folder / f"{defn.name}.json"
    save_block(defn, path, blocks)
    return path
