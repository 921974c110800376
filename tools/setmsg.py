"""Merge catalog texts into kernel/locales/{ko,en}.po without hand-editing the .po files.

    python tools/setmsg.py FILE.json [FILE.json ...]

Each file maps a key to ["한국어", "English"]; null deletes the key. A text that counts takes its
English plural forms as a list, chosen by the `n` parameter:
["남은 자리 {n}석", ["{n} seat left", "{n} seats left"]]. Output is sorted and
unwrapped so diffs stay one line per change and two branches' additions merge cleanly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "kernel" / "locales"


def apply(changes: dict[str, list[str | list[str]] | None]) -> None:
    for index, locale in enumerate(("ko", "en")):
        path = LOCALE_DIR / f"{locale}.po"
        with path.open("rb") as fh:
            cat = read_po(fh, locale=locale)
        for key, texts in changes.items():
            if texts is None:
                if key in cat:
                    cat.delete(key)
                continue
            text = texts[index]
            if key in cat:
                cat.delete(key)
            if isinstance(text, list):
                cat.add((key, key), tuple(text))
            else:
                cat.add(key, text)
        with path.open("wb") as fh:
            write_po(fh, cat, width=0, sort_output=True, omit_header=False)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit(__doc__)
    for name in argv:
        changes = json.loads(Path(name).read_text(encoding="utf-8"))
        bad = [k for k, v in changes.items() if v is not None and (not isinstance(v, list) or len(v) != 2)]
        if bad:
            sys.exit(f"{name}: each value must be [ko, en] or null: {bad[:5]}")
        apply(changes)


if __name__ == "__main__":
    main(sys.argv[1:])
