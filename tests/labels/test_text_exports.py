"""Text exports read back by their consumers: CoNLL through seqeval and `spacy convert`, the DocBin
through `DocBin().from_disk`, spaCy JSONL through json."""
import io
import json
import subprocess
import sys
import zipfile

import pytest
import spacy
from seqeval.metrics.sequence_labeling import get_entities
from spacy.tokens import DocBin

from marketplace import labels
from marketplace.labels import text_exports
from tests.labels.test_exports import rows_of, text

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

SCHEMA = {"type": "spans", "classes": ["PER", "LOC"]}


def tokens_of(sentence: str) -> list[str]:
    return [sentence[start:end] for start, end in text_exports.tokenize(sentence)]


@pytest.mark.parametrize("sentence, tokens", [
    ("I live in Paris.", ["I", "live", "in", "Paris", "."]),
    ("(Bob) said: no!", ["(", "Bob", ")", "said", ":", "no", "!"]),
    ("It costs 1,000.50 dollars, 3.5km away.", ["It", "costs", "1,000.50", "dollars", ",", "3.5", "km", "away", "."]),
    ("The U.S. don't state-of-the-art", ["The", "U.S.", "don't", "state-of-the-art"]),
    ("“Zoë” — हिन्दी ok", ["“", "Zoë", "”", "—", "हिन्दी", "ok"]),
])
def test_the_tokenizer_separates_words_numbers_and_punctuation(sentence, tokens):
    assert tokens_of(sentence) == tokens


def read_conll(body: bytes) -> list[dict]:
    """The zip's results.conll read strictly (document lines, token<TAB>tag lines, blank lines, nothing else),
    paired with provenance.jsonl's line of the same position."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["provenance.jsonl", "results.conll"]
    blocks = archive.read("results.conll").decode().split(text_exports.DOCSTART + "\n\n")
    assert blocks[0] == ""
    documents = []
    for block, line in zip(blocks[1:], archive.read("provenance.jsonl").decode().splitlines(), strict=True):
        assert block.endswith("\n\n") or block == "\n"
        rows = [row.split("\t") for row in block.splitlines() if row]
        assert all(len(row) == 2 and (row[1] == "O" or row[1][:2] in ("B-", "I-")) for row in rows)
        documents.append({"tokens": [token for token, _ in rows], "tags": [tag for _, tag in rows], **json.loads(line)})
    return documents


def entities(document) -> list[tuple[str, str]]:
    """(label, the tokens' text) of each entity, as seqeval finds them in the tags."""
    return [(label, " ".join(document["tokens"][start:end + 1])) for label, start, end in get_entities(document["tags"])]


def span(start, end, label):
    return {"start": start, "end": end, "label": label}


def test_conll_reads_back_to_the_spans_with_seqeval():
    schema = labels.validate_schema(SCHEMA)
    sentence = "Ada Lovelace lived in London. (Bob) too."
    rows = rows_of({"task_id": 4, "data": {"text": sentence},
                    "label": {"spans": [span(0, 12, "PER"), span(22, 28, "LOC"), span(31, 34, "PER")]}},
                   {"task_id": 5, "data": {"text": "Nobody."}, "label": {"spans": []}})
    first, second = read_conll(b"".join(text_exports.conll(schema, rows)))
    assert first["tokens"] == ["Ada", "Lovelace", "lived", "in", "London", ".", "(", "Bob", ")", "too", "."]
    assert entities(first) == [("PER", "Ada Lovelace"), ("LOC", "London"), ("PER", "Bob")]
    assert first["task_id"] == 4 and first["confidence"] == 0.9 and first["token_count"] == 11
    assert first["alignment"] == [] and second["task_id"] == 5 and entities(second) == []


def test_a_span_that_cuts_a_token_is_reported_and_keeps_its_exact_characters():
    schema = labels.validate_schema(SCHEMA)
    sentence = "Parisians love Paris."
    rows = rows_of({"task_id": 1, "data": {"text": sentence}, "label": {"spans": [span(0, 5, "LOC"), span(15, 20, "LOC")]}})
    (document,) = read_conll(b"".join(text_exports.conll(schema, rows)))
    assert document["tokens"][:2] == ["Paris", "ians"] and entities(document) == [("LOC", "Paris"), ("LOC", "Paris")]
    (report,) = document["alignment"]
    assert report["problem"] == "split_token" and (report["start"], report["end"], report["text"]) == (0, 5, "Paris")
    assert "'Parisians' split at 5" in report["detail"]


def test_overlapping_spans_and_whitespace_spans_are_reported_not_tagged():
    schema = labels.validate_schema({**SCHEMA, "allow_overlap": True})
    sentence = "New York City is big"
    rows = rows_of({"task_id": 1, "data": {"text": sentence},
                    "label": {"spans": [span(0, 13, "LOC"), span(0, 8, "LOC"), span(13, 14, "PER")]}})
    (document,) = read_conll(b"".join(text_exports.conll(schema, rows)))
    assert entities(document) == [("LOC", "New York City")]
    assert [(r["start"], r["end"], r["problem"]) for r in document["alignment"]] == [(0, 8, "overlap"),
                                                                                     (13, 14, "no_token")]


def test_spacy_convert_reads_the_conll_one_document_per_task(tmp_path):
    schema = labels.validate_schema(SCHEMA)
    rows = rows_of({"task_id": 1, "data": {"text": "Ada met Bob in Paris."},
                    "label": {"spans": [span(0, 3, "PER"), span(8, 11, "PER"), span(15, 20, "LOC")]}},
                   {"task_id": 2, "data": {"text": "Rome (Italy) is old."}, "label": {"spans": [span(6, 11, "LOC")]}})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(text_exports.conll(schema, rows))))
    (tmp_path / "results.conll").write_bytes(archive.read("results.conll"))
    converted = subprocess.run([sys.executable, "-m", "spacy", "convert", str(tmp_path / "results.conll"), str(tmp_path),
                                "--converter", "ner"], capture_output=True, text=True, timeout=120)
    assert converted.returncode == 0, converted.stderr
    docs = list(DocBin().from_disk(tmp_path / "results.spacy").get_docs(spacy.blank("en").vocab))
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [
        [("Ada", "PER"), ("Bob", "PER"), ("Paris", "LOC")], [("Italy", "LOC")]]
    assert [doc[4].text for doc in docs] == ["Paris", "is"]


def read_docbin(body: bytes, tmp_path, lang="en"):
    path = tmp_path / "results.spacy"
    path.write_bytes(body)
    return list(DocBin().from_disk(path).get_docs(spacy.blank(lang).vocab))


def test_the_docbin_loads_with_entities_spans_and_provenance(tmp_path):
    schema = labels.validate_schema({**SCHEMA, "allow_overlap": True})
    sentence = "Ada met Bob in New York City."
    spans = [span(0, 3, "PER"), span(8, 11, "PER"), span(15, 28, "LOC"), span(15, 23, "LOC")]
    rows = rows_of({"task_id": 8, "data": {"text": sentence}, "label": {"spans": spans}, "gold": True})
    (doc,) = read_docbin(b"".join(text_exports.spacy_docbin(schema, rows)), tmp_path)
    assert doc.text == sentence
    assert [(e.text, e.label_) for e in doc.ents] == [("Ada", "PER"), ("Bob", "PER"), ("New York City", "LOC")]
    assert sorted((s.text, s.label_) for s in doc.spans["sc"]) == [("Ada", "PER"), ("Bob", "PER"), ("New York", "LOC"),
                                                                    ("New York City", "LOC")]
    assert doc.user_data["task_id"] == 8 and doc.user_data["provenance"]["gold"] is True
    assert [(r["start"], r["end"], r["problem"]) for r in doc.user_data["alignment"]] == [(15, 23, "overlap")]


def test_a_span_off_spacys_tokens_is_reported_and_its_tokens_left_unannotated(tmp_path):
    schema = labels.validate_schema(SCHEMA)
    sentence = "Parisians love Paris."
    rows = rows_of({"task_id": 1, "data": {"text": sentence}, "label": {"spans": [span(0, 5, "LOC"), span(15, 20, "LOC")]}})
    (doc,) = read_docbin(b"".join(text_exports.spacy_docbin(schema, rows)), tmp_path)
    assert [(e.text, e.start_char) for e in doc.ents] == [("Paris", 15)]
    assert [t.ent_iob_ for t in doc] == ["", "O", "B", "O"]  # "" = missing: neither entity nor O in training
    (report,) = doc.user_data["alignment"]
    assert report["problem"] == "misaligned" and report["text"] == "Paris" and "'Parisians'" in report["detail"]


def test_the_docbin_tokenizes_with_the_language_asked_for(tmp_path):
    schema = labels.validate_schema(SCHEMA)
    rows = rows_of({"task_id": 1, "data": {"text": "Gehen wir z.B. nach Berlin."}, "label": {"spans": [span(20, 26, "LOC")]}})
    english, german = (read_docbin(b"".join(text_exports.spacy_docbin(schema, rows, lang=lang)), tmp_path, lang)[0]
                       for lang in ("en", "de"))
    assert "z.B." in [t.text for t in german] and "z.B." not in [t.text for t in english]
    assert [e.text for e in german.ents] == ["Berlin"]


@pytest.mark.parametrize("lang, field", [("zz", "lang"), ("EN", "lang"), ("en.stop_words", "lang")])
def test_a_language_spacy_does_not_know_is_refused_before_anything_streams(lang, field):
    with pytest.raises(labels.LabelError) as refused:
        text_exports.spacy_docbin(labels.validate_schema(SCHEMA), rows_of())  # default en: fine
        text_exports.spacy_docbin(labels.validate_schema(SCHEMA), rows_of(), lang=lang)
    assert refused.value.path == (field,)


def test_without_spacy_the_docbin_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # `import spacy` now raises ImportError
    with pytest.raises(labels.LabelError) as refused:
        text_exports.spacy_docbin(labels.validate_schema(SCHEMA), rows_of())
    assert refused.value.path == ("format",) and "pip install 'marketplace[spacy]'" in refused.value.message


def test_spacy_jsonl_offsets_slice_the_text():
    schema = labels.validate_schema({"type": "spans", "classes": ["PER"]})
    rows = rows_of({"task_id": 4, "data": {"text": "Zoë met Bob"}, "label": {"spans": [span(8, 11, "PER")]}})
    (record,) = [json.loads(line) for line in text(text_exports.spacy_jsonl(schema, rows)).splitlines()]
    (start, end, label), = record["entities"]
    assert record["text"][start:end] == "Bob" and label == "PER" and record["meta"]["task_id"] == 4
    doc = spacy.blank("en").make_doc(record["text"])  # how spaCy's training scripts read the tuples
    doc.ents = [doc.char_span(start, end, label=label, alignment_mode="strict")]
    assert [(e.text, e.label_) for e in doc.ents] == [("Bob", "PER")]


def test_spacy_jsonl_entities_never_overlap_but_spans_keep_every_one():
    schema = labels.validate_schema({"type": "spans", "classes": ["LOC"], "allow_overlap": True})
    rows = rows_of({"task_id": 1, "data": {"text": "New York City"}, "label": {"spans": [span(0, 13, "LOC"),
                                                                                         span(0, 8, "LOC")]}})
    (record,) = [json.loads(line) for line in text(text_exports.spacy_jsonl(schema, rows)).splitlines()]
    assert record["entities"] == [[0, 13, "LOC"]] and len(record["spans"]) == 2
