"""The stream benchmark's own logic: its client's parsing of a chunked event stream, and its pairing of
changes with the clients that should have them."""

from __future__ import annotations

from bench.sse_bench import Changes, StreamParser, change_marker, delivery, frame_event, subscriptions
from services.api.tree import UnitInfo, UnitTree

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunked(*bodies: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body), body) for body in bodies)


FIGURES = b'id: e-7\nevent: figures\ndata: {"unit_code":"31.S01","as_of":"2026-03-10T10:02:00.007+07:00"}\n\n'


def test_frames_come_whole_however_the_bytes_are_cut() -> None:
    """Chunk sizes, CRLFs and frame ends fall across reads; every cut gives the same frames."""
    body = chunked(b"retry: 2000\n\n", FIGURES[:30], FIGURES[30:] + b": heartbeat\n\n")
    stream = HEAD + body + b"0\r\n\r\n"
    for cut in range(1, len(stream)):
        parser = StreamParser()
        frames = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert parser.status == 200 and parser.chunked and parser.ended
        assert frames == [b"retry: 2000", FIGURES[:-2], b": heartbeat"], cut
    byte_by_byte = StreamParser()
    assert [f for i in range(len(stream)) for f in byte_by_byte.feed(stream[i:i + 1])] == frames


def test_a_chunk_of_a_crlf_in_the_data_is_data() -> None:
    """Only the chunk's announced size is data: CRLF inside it is kept, the one after it is not."""
    parser = StreamParser()
    assert parser.feed(HEAD + chunked(b"data: a\r\nb\n\n")) == [b"data: a\r\nb"]


def test_an_answer_without_chunks_and_an_error_status() -> None:
    parser = StreamParser()
    assert parser.feed(b"HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n") == []
    assert parser.status == 404 and not parser.chunked
    plain = StreamParser()
    assert plain.feed(b"HTTP/1.1 200 OK\r\n\r\nretry: 1\n\nda") == [b"retry: 1"]
    assert plain.feed(b"ta: x\n\n") == [b"data: x"]


def test_only_a_figures_frame_has_a_marker() -> None:
    assert change_marker(FIGURES[:-2]) == "2026-03-10T10:02:00.007+07:00"
    assert frame_event(FIGURES[:-2]) == b"figures"
    assert change_marker(b'id: e-1\nevent: removed\ndata: {"as_of":"x"}') is None
    assert change_marker(b": heartbeat") is None and frame_event(b"retry: 2000") is None


def tree() -> UnitTree:
    return UnitTree([UnitInfo("31", "P", "province", None), UnitInfo("31.S06", "D", "department", "31"),
                     UnitInfo("31.S06.01", "O", "office", "31.S06"), UnitInfo("W", "W", "ward", "31")])


def test_subscriptions_put_the_share_on_the_province_and_spread_the_rest() -> None:
    assert subscriptions(6, 0.5, ["a", "b"]) == ["31", "31", "31", "a", "b", "a"]
    assert subscriptions(3, 1.0, ["a"]) == ["31"] * 3


def test_delivery_pairs_each_change_with_the_clients_of_its_subtree() -> None:
    """A change is expected by the clients whose subtree holds its unit: an office's change by the
    province's and its department's; a frame anywhere else, or twice, is unexpected, one not had is
    missing, and a frame of no change of the phase (a warm-up record) is neither."""
    changes = Changes(produced={"m1": (0, "31.S06.01", 10.0), "m2": (1, "W", 11.0)})
    subscribed = ["31", "31.S06", "W", "31.S06.01"]
    received = [
        [("m1", 10.2), ("m2", 11.5), ("warm", 9.0)],  # the province: both
        [("m1", 10.4)],  # the department: the office's change
        [("m1", 10.3), ("m2", 11.1), ("m2", 11.2)],  # the ward: m1 is not its own; m2 twice
        [],  # the office: missed m1
    ]
    got = delivery(changes, tree(), subscribed, received)
    assert sorted(round(t, 3) for t in got.latencies) == [0.1, 0.2, 0.4, 0.5]
    assert got.missing == 1 and got.unexpected == 2
    assert [round(p, 3) for p in got.per_change_p99] == [0.4, 0.5]
