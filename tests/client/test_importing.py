"""Task files read as streams of rows (no server): formats, file lines, chunk boundaries, batches."""
import io
import json

import pytest
from labelctl import FileFormatError, importing


def rows(text: str, kind: str) -> list[tuple[int, object]]:
    return list(importing.read_rows(io.BytesIO(text.encode()), kind))


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_a_json_array_is_read_element_by_element_across_any_chunk_boundary(monkeypatch, chunk):
    monkeypatch.setattr(importing, "_CHUNK", chunk)
    text = ('\ufeff[\n  {"external_id": "a", "data": {"t": "[not, the] end}", "n": 12345}},\n\n'
            '  {"external_id": "b",\n   "data": {"x": -1.5e3}}\n]\n')
    assert rows(text, "json") == [(2, {"external_id": "a", "data": {"t": "[not, the] end}", "n": 12345}}),
                                  (4, {"external_id": "b", "data": {"x": -1500.0}})]
    assert rows("[]", "json") == []
    assert [r for _, r in rows('{"tasks": [{"external_id": "c", "data": {}}]}', "json")] == [
        {"external_id": "c", "data": {}}]


@pytest.mark.parametrize("text, line", [('[{"a": 1},\n{"b": ]', 2), ('[{"a": 1}\n{"b": 2}]', 2), ("\n\n", 3)])
def test_a_broken_json_file_names_its_line(text, line):
    with pytest.raises(FileFormatError) as broken:
        rows(text, "json")
    assert broken.value.line == line and f"line {line}" in str(broken.value)


def test_json_lines_skip_blank_lines_and_keep_file_lines():
    assert rows('\ufeff{"external_id": "a", "data": {}}\n\n  \n{"external_id": "b", "data": {}}\n', "jsonl") == [
        (1, {"external_id": "a", "data": {}}), (4, {"external_id": "b", "data": {}})]
    with pytest.raises(FileFormatError, match="line 2: not valid JSON"):
        rows('{"external_id": "a", "data": {}}\n{oops\n', "jsonl")
    with pytest.raises(FileFormatError, match="line 1: not UTF-8"):
        list(importing.read_rows(io.BytesIO(b'{"x": "\xff"}\n'), "jsonl"))


def test_csv_rows_become_tasks_by_the_servers_upload_rules():
    plain = "external_id,text,gold_answer,gold_explanation\nr1,hello,,\nr2,\"multi\nline\",\"{\"\"label\"\": \"\"pos\"\"}\",why\n"
    assert rows(plain, "csv") == [
        (2, {"external_id": "r1", "data": {"text": "hello"}}),
        (4, {"external_id": "r2", "data": {"text": "multi\nline"}, "gold_answer": {"label": "pos"},
             "gold_explanation": "why"})]
    with_data = 'external_id,data,prediction\nr1,"{""a"": [1, 2]}","{""pos"": 0.9, ""neg"": 0.1}"\n'
    assert rows(with_data, "csv") == [(2, {"external_id": "r1", "data": {"a": [1, 2]},
                                           "prediction": {"pos": 0.9, "neg": 0.1}, "model_version": None})]
    with pytest.raises(FileFormatError, match="external_id column"):
        rows("id,text\n1,a\n", "csv")
    with pytest.raises(FileFormatError, match="line 3: data: not valid JSON"):
        rows('external_id,data\nr1,{}\nr2,{oops\n', "csv")


def test_batches_respect_rows_and_bytes_and_keep_lines():
    numbered = [(i + 1, {"external_id": f"t{i}", "data": {"pad": "x" * 50}}) for i in range(7)]
    by_rows = list(importing.batches(numbered, max_rows=3, max_bytes=1 << 20))
    assert [b.lines for b in by_rows] == [[1, 2, 3], [4, 5, 6], [7]]
    assert [t["external_id"] for t in json.loads(by_rows[1].body)["tasks"]] == ["t3", "t4", "t5"]
    by_bytes = list(importing.batches(numbered, max_rows=100, max_bytes=200))
    assert all(len(b.lines) == 2 for b in by_bytes[:-1]) and sum(len(b.lines) for b in by_bytes) == 7
    halves = importing.split(by_rows[0], 2)
    assert [h.lines for h in halves] == [[1, 2], [3]] and json.loads(halves[1].body)["tasks"][0]["external_id"] == "t2"


def test_the_format_comes_from_the_name_unless_given(tmp_path):
    assert importing.detect_format(tmp_path / "a.NDJSON") == "jsonl"
    assert importing.detect_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(FileFormatError, match="cannot tell the format"):
        importing.detect_format(tmp_path / "a.txt")
