"""Member names: decoding legacy bytes, normalising, and the rules a name must obey."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ..errors import ErrorCode, IngestError

# Files that operating systems leave behind; never counted, never extracted.
CLUTTER_FOLDERS = frozenset({"__macosx"})
CLUTTER_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4000

# Code pages tried, in order of preference, when a name is not valid UTF-8. Zip
# tools on Windows write the OEM code page; some write the ANSI one instead.
LEGACY_CODEPAGES = ("cp437", "cp850", "cp1252", "cp866", "cp1251", "cp932", "cp936")

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def decode_names(raw_names: Iterable[bytes]) -> tuple[list[str], str]:
    """Decode undeclared names: UTF-8 when they all are, else the likeliest code page.

    The whole archive is judged at once, since one tool wrote every name in it.
    """
    names = list(raw_names)
    foreign = [n for n in names if not n.isascii()]
    if not foreign:
        return [n.decode("ascii") for n in names], "ascii"
    try:
        for name in foreign:
            name.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return [n.decode("utf-8") for n in names], "utf-8"

    best = max(LEGACY_CODEPAGES, key=lambda cp: _plausibility(foreign, cp))
    return [n.decode(best, errors="replace") for n in names], best


def _plausibility(names: list[bytes], codepage: str) -> tuple[float, int]:
    """How much the names look like words in this code page (higher is likelier)."""
    score = 0.0
    for raw in names:
        try:
            text = raw.decode(codepage)
        except UnicodeDecodeError:
            return (float("-inf"), 0)
        score += _word_score(text)
    # Ties go to the earlier code page in LEGACY_CODEPAGES.
    return (score, -LEGACY_CODEPAGES.index(codepage))


def _word_score(text: str) -> float:
    """Points for letters of one script, penalties for what real names rarely hold."""
    score = 0.0
    scripts: set[str] = set()
    run = 0
    padded = f" {text} "
    for index, char in enumerate(text, start=1):
        if char.isascii():
            run = 0
            continue
        if not char.isalpha():
            score -= 2.0
            run = 0
            continue
        script = _script(char)
        scripts.add(script)
        run += 1
        before, after = padded[index - 1], padded[index + 1]
        if script in ("cjk", "hiragana", "katakana", "hangul"):
            score += 2.0  # one character from two bytes
        elif script != "latin" or run < 3:
            score += 1.0
        else:
            score -= 1.0  # European words rarely hold three accented letters in a row
        if script != "latin" and (_ascii_letter(before) or _ascii_letter(after)):
            score -= 2.0  # Cyrillic or Greek glued to Latin letters
        if char.isupper() and before.islower():
            score -= 1.5
    return score - 3.0 * max(0, len(scripts) - 1)


def _ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    for script in ("LATIN", "GREEK", "CYRILLIC", "HIRAGANA", "KATAKANA", "HANGUL"):
        if name.startswith(script):
            return script.lower()
    return "cjk" if "CJK" in name else "other"


def split_name(name: str) -> tuple[list[str], bool]:
    """Normalise a decoded name into path components and whether it names a folder.

    Raises IngestError (path_escape or bad_name) for names that could leave the
    staging folder or that no file system should hold.
    """
    shown = name.replace("\x00", "\\0")
    if _CONTROL.search(name):
        raise IngestError(
            ErrorCode.BAD_NAME,
            f"The archive member {shown!r} has a control character in its name.",
            member=shown,
        )
    name = unicodedata.normalize("NFC", name.replace("\\", "/"))
    if name.startswith("/") or _DRIVE.match(name):
        raise IngestError(
            ErrorCode.PATH_ESCAPE,
            f"The archive member {name!r} has an absolute path; "
            "only paths inside the recording are allowed.",
            member=name,
        )

    is_dir = name.endswith("/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise IngestError(
            ErrorCode.PATH_ESCAPE,
            f"The archive member {name!r} points outside the recording with '..'.",
            member=name,
        )
    if not parts and name.rstrip("/") in ("", "."):
        return [], True  # "./": the archive's own top folder, as GNU tar writes it
    if not parts:
        raise IngestError(
            ErrorCode.BAD_NAME, f"The archive has a member with an empty name {name!r}."
        )
    _check_lengths(name, parts)
    return parts, is_dir


def _check_lengths(name: str, parts: list[str]) -> None:
    too_long = [p for p in parts if len(p.encode("utf-8")) > MAX_COMPONENT_BYTES]
    if too_long or len(name.encode("utf-8")) > MAX_PATH_BYTES:
        raise IngestError(
            ErrorCode.BAD_NAME,
            f"The archive member {name[:80]!r}... has a name longer than the "
            f"file system allows ({MAX_COMPONENT_BYTES} bytes per part).",
            member=name,
            limit=MAX_COMPONENT_BYTES,
        )


def is_clutter(parts: list[str]) -> bool:
    """True for files an operating system left behind (Finder, Explorer)."""
    if any(p.lower() in CLUTTER_FOLDERS for p in parts):
        return True
    leaf = parts[-1]
    return leaf.startswith("._") or leaf.lower() in CLUTTER_FILES
