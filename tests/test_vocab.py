"""Vocabulary: sorted and deterministic, smallest id dtype, exact round-trips, unknown characters named."""

import numpy as np
import pytest

from charrnn.errors import VocabError
from charrnn.data.vocab import Vocab, describe, display, id_dtype

KOREAN = "안녕하세요, 세계! 한국어 텍스트도 됩니다.\n"
MIXED = "Hello 😀 world\r\n안녕 🇰🇷 naïve café\tend\n"


def test_sorted_by_code_point_and_deterministic():
    text = "banana\nBANANA 가\t😀"
    v = Vocab.from_text(text)
    assert list(v.chars) == sorted(set(text))
    assert v.chars == Vocab.from_text(text[::-1]).chars == Vocab.from_text(text * 3).chars
    assert Vocab.from_text(text) == Vocab(set(text))
    assert [v.index(c) for c in v.chars] == list(range(v.size))
    assert len(v) == v.size == len(set(text))


@pytest.mark.parametrize("n,dtype", [(1, np.uint8), (256, np.uint8), (257, np.uint16),
                                     (65536, np.uint16), (65537, np.uint32)])
def test_id_dtype_boundaries(n, dtype):
    assert id_dtype(n) == np.dtype(dtype)


def test_dtype_uint8_for_ascii():
    v = Vocab.from_text("hello world")
    assert v.dtype == np.uint8 and v.encode("hello").dtype == np.uint8


def test_dtype_uint16_for_korean_text_with_more_than_256_characters():
    text = "".join(chr(0xAC00 + i) for i in range(0, 3000, 7)) + " \n.,abc"
    v = Vocab.from_text(text)
    assert v.size > 256 and v.dtype == np.uint16
    ids = v.encode(text)
    assert ids.dtype == np.uint16 and v.decode(ids) == text


def test_dtype_uint32_for_a_vocabulary_of_more_than_65536_characters():
    points = [p for p in range(0x20, 0x20 + 70_000 + 2048) if not 0xD800 <= p <= 0xDFFF][:70_000]
    text = "".join(map(chr, points))
    v = Vocab.from_text(text)
    assert v.size == 70_000 and v.dtype == np.uint32
    ids = v.encode(text)
    assert ids.dtype == np.uint32 and ids.max() == 69_999
    assert v.decode(ids) == text


@pytest.mark.parametrize("text", ["plain ascii text", KOREAN, MIXED, "emoji 👩‍👩‍👧 family", "a\r\nb\rc\n",
                                  "\ufeffbom inside", "x"])
def test_encode_decode_round_trip(text):
    v = Vocab.from_text(text)
    ids = v.encode(text)
    assert ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert v.decode(list(ids)) == text
    assert v.decode(ids.astype(np.int64)) == text
    assert [v.chars[i] for i in ids] == list(text)


def test_crlf_is_kept_as_two_characters():
    v = Vocab.from_text("a\r\nb")
    assert "\r" in v and "\n" in v
    assert v.decode(v.encode("\r\n")) == "\r\n"


def test_encode_empty_and_decode_empty():
    v = Vocab.from_text("abc")
    assert v.encode("").shape == (0,)
    assert v.decode(np.array([], dtype=np.uint8)) == ""


def test_unknown_character_error_names_it():
    v = Vocab.from_text("abc")
    with pytest.raises(VocabError) as e:
        v.encode("abz")
    assert "'z'" in e.value.message and "U+007A" in e.value.message and e.value.hint
    with pytest.raises(VocabError, match=r"U\+D55C"):
        v.encode("a한")
    with pytest.raises(VocabError, match=r"U\+1F600"):  # beyond the lookup table
        v.encode("😀")
    with pytest.raises(VocabError) as e:  # shown printable, escaped once: '\n' (U+000A), not '\\n'
        v.encode("a\n\t'")
    assert e.value.message.endswith("""'\\t' (U+0009), '\\n' (U+000A), "'" (U+0027)"""), e.value.message
    with pytest.raises(VocabError, match="'q'"):
        v.index("q")
    assert v.unknown("abzyz") == ["y", "z"]


def test_many_unknown_characters_are_summarised():
    v = Vocab.from_text("a")
    with pytest.raises(VocabError, match="and 15 more"):
        v.encode("bcdefghijklmnopqrstuvwxyz")


def test_decode_rejects_out_of_range_ids():
    v = Vocab.from_text("abc")
    with pytest.raises(VocabError, match="id 3"):
        v.decode([0, 3])
    with pytest.raises(VocabError, match="id -1"):
        v.decode(np.array([-1, 0]))


def test_to_list_from_list_round_trip_and_validation():
    v = Vocab.from_text(MIXED)
    assert Vocab.from_list(v.to_list()) == v
    with pytest.raises(VocabError):
        Vocab.from_list(["b", "a"])
    with pytest.raises(VocabError):
        Vocab.from_list(["a", "a"])
    with pytest.raises(VocabError):
        Vocab.from_list(["ab"])
    with pytest.raises(VocabError):
        Vocab.from_list("abc")
    with pytest.raises(VocabError, match="empty"):
        Vocab.from_text("")


def test_describe_quotes_each_character_once():
    assert describe("\t") == "'\\t' (U+0009)"  # a backslash and t, as written in Python: not '\\\\t'
    assert describe(["é", "'", " "]) == """'é' (U+00E9), "'" (U+0027), '␠' (U+0020)"""
    assert describe("abcd", limit=2) == "'a' (U+0061), 'b' (U+0062) and 2 more"


def test_display_makes_characters_printable():
    assert display("\n") == "\\n" and display(" ") == "␠" and display("\t") == "\\t"
    assert display("\x07") == "U+0007" and display("가") == "가"


def test_describe_shows_each_character_once():
    assert describe(["\xa0"]) == "U+00A0"  # not 'U+00A0' (U+00A0)
    assert describe(["é", "\t"]) == "'é' (U+00E9), '\\t' (U+0009)"


def test_known_keeps_ids_counts_drops_and_names_each_unknown_once():
    v = Vocab("abc\n")
    k = v.known("a\xa0béb\xa0c")
    assert v.decode(k.ids) == "abbc" and k.dropped == 3 and k.unknown == ["\xa0", "é"]
    assert k.message("dropped") == ("dropped 3 character(s) not in the model's vocabulary "
                                    "(2 distinct: U+00A0, 'é' (U+00E9))")
    k = v.known("ab\xa0\xa0cab", limit=3)  # stops right after the 3rd known character
    assert v.decode(k.ids) == "abc" and k.dropped == 2
    assert v.known("abc").dropped == 0 and v.known("", limit=0).ids.size == 0
