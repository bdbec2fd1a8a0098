"""Body framing: one object, an array, or NDJSON, with errors a sender can act on."""

from __future__ import annotations

import pytest

from services.ingest.parsing import JSON, NDJSON, MalformedBody, MediaType, TooManyEvents, parse_body


def test_a_single_object_is_a_batch_of_one() -> None:
    assert parse_body(b'{"event_id": "a"}', JSON, 10) == [{"event_id": "a"}]


def test_an_array_keeps_its_order_and_its_non_objects() -> None:
    # Non-objects are validation's business (rejected per event), not a framing error.
    assert parse_body(b'[{"n": 1}, 2, {"n": 3}]', JSON, 10) == [{"n": 1}, 2, {"n": 3}]


def test_ndjson_skips_blank_lines_and_tolerates_crlf() -> None:
    body = b'{"n": 1}\r\n\n  \n{"n": 2}\r\n{"n": 3}'
    assert parse_body(body, NDJSON, 10) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_an_ndjson_line_holding_an_array_is_one_item() -> None:
    assert parse_body(b'[{"n": 1}, {"n": 2}]\n', NDJSON, 10) == [[{"n": 1}, {"n": 2}]]


def test_malformed_ndjson_names_the_physical_line() -> None:
    body = b'{"n": 1}\n\n{"n": 2}\n{"n": \n{"n": 4}\n'
    with pytest.raises(MalformedBody, match=r"line 4\b"):
        parse_body(body, NDJSON, 10)


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(MalformedBody, match=r"line 2 column 4"):
        parse_body(b'{"a":\n 1,,}', JSON, 10)


@pytest.mark.parametrize(("body", "media_type", "words"), [
    (b"", JSON, "empty body"),
    (b"  \n ", JSON, "empty body"),
    (b"[]", JSON, "empty batch"),
    (b"", NDJSON, "empty batch"),
    (b"\n\r\n  \n", NDJSON, "empty batch"),
])
def test_an_empty_batch_is_refused(body: bytes, media_type: MediaType, words: str) -> None:
    with pytest.raises(MalformedBody, match=words):
        parse_body(body, media_type, 10)


@pytest.mark.parametrize("body", [b"42", b'"event"', b"null", b"true"])
def test_a_json_body_must_be_an_object_or_array(body: bytes) -> None:
    with pytest.raises(MalformedBody, match="object"):
        parse_body(body, JSON, 10)


def test_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedBody):
        parse_body(b'{"source": "\xff\xfe"}', JSON, 10)


@pytest.mark.parametrize("media_type", [JSON, NDJSON])
def test_the_event_limit_is_inclusive(media_type: MediaType) -> None:
    body = b"[" + b",".join([b"{}"] * 5) + b"]" if media_type == JSON else b"{}\n" * 5
    assert len(parse_body(body, media_type, 5)) == 5
    with pytest.raises(TooManyEvents):
        parse_body(body, media_type, 4)
