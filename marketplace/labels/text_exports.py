"""Text export formats: CoNLL (BIO, in a zip with its provenance), spaCy's DocBin and spaCy-style JSONL.

CoNLL tokens come from a rule tokenizer of our own (spaCy is an optional extra and NLTK's tokenizers
change with their data files), so a CoNLL file is the same on every server: a word (letters, digits
and combining marks, with inner apostrophes or hyphens: "don't", "state-of-the-art"), an
abbreviation with dots ("U.S.", "e.g."), a number with inner separators ("3.5", "1,000", "12:30") or
any other single non-space character (punctuation, symbols) is a token: "Paris." is "Paris", ".";
"(Bob)" is "(", "Bob", ")". Scripts without spaces between words (Chinese, Japanese, Thai) come out
as one token per run of letters, split only at span boundaries.

Where a span starts or ends inside such a token ("Paris" in "Parisian"), the token is split at the
span's boundary, so every span reads back with its exact characters (nothing is silently widened or
shifted), and the split is reported in the document's `alignment` list in `provenance.jsonl`, for the
requester to judge (a model's tokenizer will not split there). BIO cannot hold overlapping spans
(schemas with `allow_overlap`): the one starting first (then the longer) is tagged, the others are
reported as `overlap`; a span over whitespace alone has no token and is reported as `no_token`.

The DocBin uses spaCy's own tokenizer for the language asked for (`spacy.blank(lang)`), the one a
model trained on it will use, and `Doc.char_span(..., alignment_mode="strict")`: a span that does
not fall on its token boundaries is not widened into an entity; its tokens are marked missing (no
annotation, so training neither rewards nor penalises them, spaCy's convention for misaligned
offsets) and it is reported in the doc's `user_data["alignment"]`. spaCy is an optional extra.
"""
from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterator

from marketplace.labels.errors import LabelError
from marketplace.labels.exports import Rows, ZipStream, dumps, provenance

DOCSTART = "-DOCSTART- -X- O O"  # CoNLL-2003's document line; spaCy's converter splits documents on it
SPACY_EXTRA = "pip install 'marketplace[spacy]'"
SPAN_GROUP = "sc"  # spaCy's span categorizer reads this group by default
_LANG = re.compile(r"^[a-z]{2,3}$")


@functools.cache
def _token_pattern() -> re.Pattern:
    """The tokenizer's pattern; combining marks (Unicode category M) count as word characters."""
    marks, start = [], None
    for code in range(0x20000):  # the marks of the basic and supplementary multilingual planes
        mark = unicodedata.category(chr(code)).startswith("M")
        if mark and start is None:
            start = code
        elif not mark and start is not None:
            marks.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    word = rf"[\w{''.join(marks)}\U000E0100-\U000E01EF]+"
    return re.compile(rf"(?:[^\W\d_]\.){{2,}}|\d+(?:[.,:/]\d+)+|{word}(?:['’\-]{word})*|\S")


def tokenize(text: str) -> list[tuple[int, int]]:
    """(start, end) of each token of the text (see the module docstring for the rules)."""
    return [match.span() for match in _token_pattern().finditer(text)]


def _tagged_spans(spans: list[dict], text: str):
    """The spans BIO can hold (disjoint, over some token) and a report on the others."""
    kept, report = [], []
    for span in sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"]))):
        entry = {"start": span["start"], "end": span["end"], "label": span["label"], "text": text[span["start"]:span["end"]]}
        if kept and span["start"] < kept[-1]["end"]:
            report.append({**entry, "problem": "overlap",
                           "detail": f"overlaps {kept[-1]['start']}:{kept[-1]['end']}, which BIO tags instead"})
        elif not text[span["start"]:span["end"]].strip():
            report.append({**entry, "problem": "no_token", "detail": "covers whitespace only"})
        else:
            kept.append(span)
    return kept, report


def aligned_tokens(text: str, spans: list[dict]) -> tuple[list[tuple[int, int]], list[str], list[dict]]:
    """Tokens (start, end), their BIO tags, and the alignment report (module docstring) for one text."""
    tokens = tokenize(text)
    kept, report = _tagged_spans(spans, text)
    cuts: dict[int, set[int]] = {}  # token index -> offsets to split it at
    ends = [end for _, end in tokens]
    for span in kept:
        cut = []
        for boundary in (span["start"], span["end"]):
            i = bisect.bisect_right(ends, boundary)  # the first token ending after the boundary
            if i < len(tokens) and tokens[i][0] < boundary:
                cuts.setdefault(i, set()).add(boundary)
                cut.append((i, boundary))
        if cut:
            report.append({"start": span["start"], "end": span["end"], "label": span["label"],
                           "text": text[span["start"]:span["end"]], "problem": "split_token",
                           "detail": "; ".join(f"token {text[tokens[i][0]:tokens[i][1]]!r} split at {b}" for i, b in cut)})
    pieces = []
    for i, (start, end) in enumerate(tokens):
        bounds = [start, *sorted(cuts.get(i, ())), end]
        pieces.extend(zip(bounds, bounds[1:]))
    tags = ["O"] * len(pieces)
    starts = [start for start, _ in pieces]
    for span in kept:
        k = bisect.bisect_left(starts, span["start"])  # the span's first piece: spans start on a piece now
        tags[k] = "B-" + span["label"]
        while k + 1 < len(pieces) and pieces[k + 1][1] <= span["end"]:
            k += 1
            tags[k] = "I-" + span["label"]
    report.sort(key=lambda r: (r["start"], r["end"], r["label"]))
    return pieces, tags, report


def conll(schema: dict, rows: Rows) -> Iterator[bytes]:
    """A zip of `results.conll` and `provenance.jsonl`.

    `results.conll` is CoNLL-2003-style BIO with nothing else in it: per task a `-DOCSTART- -X- O O`
    line and a blank line, then one `token<TAB>tag` line per token and a blank line. Readers of
    CoNLL-2003 (spaCy's `convert --converter ner`, flair, Hugging Face's loaders) take each task as
    a document. `provenance.jsonl` has a line per document, in the same order: the task's
    provenance, its `token_count` and `alignment`, the report of spans split, overlapping or without
    a token (module docstring).
    """
    out, sidecar = ZipStream(), ZipStream.spool()
    with out.archive.open("results.conll", "w", force_zip64=True) as member:
        for document, row in enumerate(rows()):
            text = row["data"]["text"]
            tokens, tags, report = aligned_tokens(text, row["label"]["spans"])
            member.write((f"{DOCSTART}\n\n" + "".join(f"{text[s:e]}\t{tag}\n" for (s, e), tag in zip(tokens, tags))
                          + "\n").encode())
            sidecar.write((dumps({"document": document, **provenance(row), "token_count": len(tokens),
                                  "alignment": report}) + "\n").encode())
            yield out.take()
    yield from out.add_spooled("provenance.jsonl", sidecar)
    yield out.close()


def spacy_jsonl(schema: dict, rows: Rows) -> Iterator[str]:
    """spaCy-style JSONL: `text`, `entities` as [start, end, label] (v2 training tuples, never overlapping),
    `spans` as objects (all of them, overlaps too: spaCy's span groups), `meta` with the provenance."""
    for row in rows():
        spans = row["label"]["spans"]
        yield dumps({"text": row["data"]["text"], "entities": [[s["start"], s["end"], s["label"]] for s in _disjoint(spans)],
                     "spans": [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in spans],
                     "meta": provenance(row)}) + "\n"


def _disjoint(spans: list[dict]) -> list[dict]:
    """spaCy's entities may not overlap: where spans do (schemas that allow it), the first (then longer) wins."""
    kept: list[dict] = []
    for span in sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"]))):
        if not kept or span["start"] >= kept[-1]["end"]:
            kept.append(span)
    return kept


def blank_pipeline(lang: str):
    """spaCy's blank pipeline for a language; LabelError naming `format` without spaCy, `lang` for an unknown one."""
    try:
        import spacy  # an optional extra: imported only when a DocBin is asked for
    except ImportError:
        raise LabelError(f"the spacy format needs spaCy, an optional extra of the server: {SPACY_EXTRA} "
                         "(or export format=spacy-jsonl)", "format") from None
    if not _LANG.match(lang or ""):
        raise LabelError("must be a language code of two or three lower-case letters, as spaCy names them (en, de, ...)",
                         "lang")
    try:
        return spacy.blank(lang)
    except ImportError as exc:  # an unknown code, or a language whose tokenizer needs a package not installed
        raise LabelError(f"spaCy cannot tokenize {lang!r}: {str(exc).splitlines()[0][:300]}", "lang") from None


def spacy_docbin(schema: dict, rows: Rows, *, lang: str = "en") -> Iterator[bytes]:
    """spaCy's binary training corpus (`.spacy`, `DocBin().from_disk`), one Doc per task.

    Entities are `doc.ents` (disjoint: where spans overlap, the first then longer wins) and every
    aligned span is in `doc.spans["sc"]`; `user_data` holds `task_id`, `provenance` and `alignment`
    (spans that miss spaCy's token boundaries, with their tokens marked missing, and overlaps).
    Checks spaCy and the language at once (LabelError), before anything streams. A DocBin is one
    compressed blob, so it is built whole: its memory grows with the project's tokens.
    """
    nlp = blank_pipeline(lang)
    return _docbin(nlp, rows)


def _docbin(nlp, rows: Rows) -> Iterator[bytes]:
    from spacy.tokens import DocBin  # spaCy is present: blank_pipeline loaded it

    corpus = DocBin(store_user_data=True)
    for row in rows():
        doc = nlp.make_doc(row["data"]["text"])
        entities, grouped, missing, report = _aligned_spans(doc, row["label"]["spans"])
        doc.set_ents(entities, missing=missing, default="outside")
        doc.spans[SPAN_GROUP] = grouped
        doc.user_data.update({"task_id": row["task_id"], "provenance": provenance(row), "alignment": report})
        corpus.add(doc)
    yield corpus.to_bytes()


def _aligned_spans(doc, spans: list[dict]):
    """(entities, span group, missing token ranges, report) of one doc's spans under its tokenization."""
    entities, grouped, misaligned, report = [], [], [], []
    for span in sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"]))):
        entry = {"start": span["start"], "end": span["end"], "label": span["label"],
                 "text": doc.text[span["start"]:span["end"]]}
        found = doc.char_span(span["start"], span["end"], label=span["label"], alignment_mode="strict")
        if found is None:
            wide = doc.char_span(span["start"], span["end"], alignment_mode="expand")
            tokens = f"{wide.text!r}" if wide is not None else "no token"
            report.append({**entry, "problem": "misaligned",
                           "detail": f"not on spaCy's token boundaries (its tokens: {tokens}); marked missing"})
            if wide is not None:
                misaligned.append(range(wide.start, wide.end))
            continue
        grouped.append(found)
        if entities and found.start < entities[-1].end:
            report.append({**entry, "problem": "overlap", "detail": f"overlaps {entities[-1].start_char}:"
                           f"{entities[-1].end_char}, the entity kept (all are in doc.spans[{SPAN_GROUP!r}])"})
        else:
            entities.append(found)
    return entities, grouped, _missing(doc, entities, misaligned), report


def _missing(doc, entities, misaligned: list[range]):
    """Token ranges of misaligned spans, less the tokens an entity holds (an entity and a missing token cannot overlap)."""
    taken = {i for entity in entities for i in range(entity.start, entity.end)}
    free = sorted({i for tokens in misaligned for i in tokens} - taken)
    runs, start = [], None
    for k, i in enumerate(free):
        if start is None:
            start = i
        if k + 1 == len(free) or free[k + 1] != i + 1:
            runs.append(doc[start:i + 1])
            start = None
    return runs
