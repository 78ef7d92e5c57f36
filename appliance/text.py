"""Text as people type it, cleaned the way records store it.

Records hold strings in Unicode NFC (appliance.log normalises every body), and NFC
can make text longer: U+0958 is stored as two code points. So a service cleans text
with these helpers, which normalise first, and only then checks its length; text that
fits the form then always fits the record.
"""

from __future__ import annotations

import unicodedata


def nfc(text) -> str:
    """Return text (None for none) in Unicode NFC."""
    return unicodedata.normalize("NFC", str(text or ""))


def one_line(text) -> str:
    """Return text in NFC on one line: runs of white space become one space, none at the ends."""
    return " ".join(nfc(text).split())


def clean_text(text) -> str:
    """Return text in NFC without white space at the ends and with Windows line ends made \\n."""
    return nfc(text).strip().replace("\r\n", "\n")


def plain(message: str, **params) -> str:
    """Fill in an English source message untranslated: gettext's stand-in outside the web."""
    return message % params if params else message
