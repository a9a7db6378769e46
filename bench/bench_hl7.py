"""HL7 v2 parsing benchmark (no database): our parser against the `hl7` package on the same ADT messages.

    python bench/bench_hl7.py            # prints its rows; bench/run.py includes them in its table

Messages: every ADT message of ../shared/corpus/hl7v2 (adt_a01, adt_a04, adt_a08, adt_a40,
adt_other; batch files split), normalised the same way for both parsers (CR segment ends, no
BOM) because `hl7` 0.4.5 only splits on CR. Two measures, each repeated until stable (best of
at least one second of calls, CPU time):

- parse: `praxis.formats.hl7v2.parse_message` vs `hl7.parse`, each message parsed once;
- parse + read: the same, then eight values a registration reads (MSH-9.1, MSH-9.2, MSH-10,
  PID-3.1, PID-5.1, PID-5.2, PID-7, PID-11.5) through each library's accessor.

The target (issue 15): ours at least 10 times `hl7`'s messages per second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

RATIO_TARGET = 10.0
FOLDERS = ("adt_a01", "adt_a04", "adt_a08", "adt_a40", "adt_other")
OUR_PATHS = ("MSH-9.1", "MSH-9.2", "MSH-10", "PID-3.1", "PID-5.1", "PID-5.2", "PID-7", "PID-11.5")
HL7_PATHS = ("MSH.F9.R1.C1", "MSH.F9.R1.C2", "MSH.F10", "PID.F3.R1.C1", "PID.F5.R1.C1", "PID.F5.R1.C2",
             "PID.F7", "PID.F11.R1.C5")


def _corpus() -> Path | None:
    for candidate in (REPO / ".." / "shared" / "corpus" / "hl7v2", REPO / ".." / ".." / "shared" / "corpus" / "hl7v2"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def messages(corpus: Path) -> list[str]:
    from praxis.formats.hl7v2 import split_batch

    out = []
    for folder in FOLDERS:
        for path in sorted((corpus / folder).glob("*.hl7")):
            for text in split_batch(path.read_bytes()):
                out.append(text.replace("\r\n", "\r").replace("\n", "\r").lstrip("\ufeff").strip("\r") + "\r")
    return out


def _timed(fn: Any, min_seconds: float = 1.0) -> float:
    """Best CPU seconds of one call over repeated calls (the bench machine is shared)."""
    fn()
    calls, start, best = 0, time.perf_counter(), float("inf")
    while time.perf_counter() - start < min_seconds or calls < 3:
        p = time.process_time()
        fn()
        best = min(best, time.process_time() - p)
        calls += 1
    return max(best, 1e-9)


def _hl7_get(msg: Any, path: str) -> str:
    try:
        return str(msg[path])
    except (IndexError, KeyError):
        return ""


def rows(repeat: int = 20) -> list[dict[str, Any]]:
    import hl7

    from praxis.formats.hl7v2 import parse_message

    corpus = _corpus()
    if corpus is None:
        return [{"operation": "HL7 v2 parse (ADT corpus)", "figure": None, "unit": "messages/s",
                 "reference": None, "ratio": None, "met": None, "note": "shared corpus not present"}]
    batch = messages(corpus) * repeat
    # Both parsers must read the same values, or the comparison means nothing.
    for text in batch[: len(batch) // repeat]:
        ours, theirs = parse_message(text), hl7.parse(text)
        assert ours.get("PID-5.1") == _hl7_get(theirs, "PID.F5.R1.C1") or not ours.get("PID-5.1")

    def ours_parse() -> None:
        for text in batch:
            parse_message(text)

    def hl7_parse() -> None:
        for text in batch:
            hl7.parse(text)

    def ours_read() -> None:
        for text in batch:
            msg = parse_message(text)
            for path in OUR_PATHS:
                msg.get(path)

    def hl7_read() -> None:
        for text in batch:
            msg = hl7.parse(text)
            for path in HL7_PATHS:
                _hl7_get(msg, path)

    out = []
    n = len(batch)
    for label, ours_fn, theirs_fn in (("parse", ours_parse, hl7_parse), ("parse + read 8 values", ours_read,
                                                                         hl7_read)):
        ours_rate = n / _timed(ours_fn)
        theirs_rate = n / _timed(theirs_fn)
        ratio = ours_rate / theirs_rate
        out.append({"operation": f"HL7 v2 {label}, {len(batch) // repeat} corpus ADT messages",
                    "figure": round(ours_rate, 1), "unit": "messages/s",
                    "reference": round(theirs_rate * RATIO_TARGET, 1),
                    "ratio": round(ratio / RATIO_TARGET, 2),  # figure / reference, as the other rows
                    "met": "yes" if ratio >= RATIO_TARGET else "no",
                    "note": f"hl7 0.4.5: "
                            f"{theirs_rate:,.0f} messages/s; ours/hl7 = {ratio:.1f}x (target {RATIO_TARGET:.0f}x)"})
    return out


def main() -> None:
    for row in rows():
        print(f"{row['operation']}: {row['figure']} {row['unit']} — {row.get('note', '')} — met: {row['met']}")


if __name__ == "__main__":
    main()
