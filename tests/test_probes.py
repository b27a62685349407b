"""Probe signals on hand-written snippets: quotes, escapes, triple quotes, comments, brackets, CRLF;
a bad probe named to inspect-cells is an error line with a hint."""

import numpy as np
import pytest
from helpers import TEXT, invoke, make_checkpoint

from charrnn.interpret import probes
from charrnn.errors import UsageError


def marks(text, name, mode="python"):
    """The signal as a string of digits under the text, for readable assertions."""
    return "".join(str(int(v)) for v in probes.compute(text, [name], mode=mode)[name])


def test_double_quotes_state_after_each_character():
    text = 'x = "ab" + y'
    #       x = "ab" + y
    assert marks(text, "in_double_quotes") == "000011100000"
    assert marks(text, "in_single_quotes") == "0" * len(text)
    assert marks(text, "in_string") == "000011100000"


def test_nested_other_quotes_stay_inside_one_string():
    text = '''s = "it's" + 'say "hi"' '''
    dq = marks(text, "in_double_quotes")
    sq = marks(text, "in_single_quotes")
    assert dq == "0000111110000000000000000"[: len(text)]
    assert sq[text.index("'say"): text.index("'say") + 10] == "1111111110"
    assert sq[:text.index("'say")] == "0" * text.index("'say")  # the ' in "it's" opens nothing


def test_escaped_quotes_do_not_close_a_string_also_in_raw_strings():
    text = r'a = "x\"y" + r"\"" + z'
    got = marks(text, "in_string")
    first = text.index('"')
    close = text.index('"', text.index('y'))  # the real closing quote of "x\"y"
    assert got[first:close] == "1" * (close - first) and got[close] == "0"
    raw_open = text.index('r"') + 1
    assert got[raw_open: raw_open + 3] == "111" and got[raw_open + 3] == "0"
    assert got[-1] == "0"  # z is code
    assert marks("s = 'a\\'b' + c", "in_single_quotes") == "0000" + "111110" + "0000"


def test_triple_quotes_span_lines_and_contain_single_quotes():
    text = 'd = """one "two"\nthree \'x\'\n""" + 1'
    got = marks(text, "in_double_quotes")
    start, end = text.index('"""'), text.rindex('"""')
    assert got[start:end] == "1" * (end - start)
    assert got[end:] == "0" * (len(text) - end)
    assert marks(text, "in_single_quotes") == "0" * len(text)


def test_single_line_string_ends_at_the_line_end_and_prefixes_are_code():
    text = 'x = "open\ny = f"ok"'
    got = marks(text, "in_string")
    assert got[text.index("\n")] == "0"
    assert got[text.index("y")] == "0"
    f = text.index('f"')
    assert got[f] == "0" and got[f + 1: f + 4] == "111" and got[-1] == "0"


def test_comments_start_only_outside_strings():
    text = 's = "# no"  # yes "x"\nt = 1'
    got = marks(text, "in_comment")
    hash2 = text.index("# yes")
    assert got[:hash2] == "0" * hash2
    assert got[hash2: text.index("\n")] == "1" * (text.index("\n") - hash2)
    assert got[text.index("\n"):] == "0" * (len(text) - text.index("\n"))
    assert marks(text, "in_string")[hash2:] == "0" * (len(text) - hash2)  # "x" in a comment is no string


def test_bracket_depth_ignores_brackets_in_strings_and_comments():
    text = 'f(a[1], "(", {2: (3)})  # ((('
    got = probes.compute(text, ["bracket_depth"], mode="python")["bracket_depth"]
    assert got[text.index("(")] == 1
    assert got[text.index("[")] == 2 and got[text.index("]")] == 1
    assert got[text.index('"(') + 1] == 1  # the ( inside the string
    assert got[text.index("(3") ] == 3
    assert got[text.index(")  #")] == 0
    assert got[-1] == 0
    assert probes.compute(")) x (", ["bracket_depth"])["bracket_depth"].tolist() == [0, 0, 0, 0, 0, 1]


def test_lines_with_crlf_and_lone_cr():
    text = "ab\r\ncd\n  e\rf"
    got = probes.compute(text, ["line_position", "chars_to_eol", "indentation"], mode="plain")
    assert got["line_position"].tolist() == [0, 1, 2, 2, 0, 1, 2, 0, 1, 2, 3, 0]
    assert got["chars_to_eol"].tolist() == [2, 1, 0, 0, 2, 1, 0, 3, 2, 1, 0, 1]
    assert got["indentation"].tolist() == [0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 0]
    assert probes.compute("\tx\n", ["indentation"])["indentation"].tolist() == [8, 8, 8]
    com = marks("# hi\r\nx", "in_comment")
    assert com == "1111000"


def test_word_start_upper_case_and_regex():
    text = "Hi a_b, 2x"
    assert marks(text, "word_start") == "1001000010"
    assert marks(text, "upper_case") == "1000000000"
    assert marks("ab 12 c3", "regex:[0-9]+") == "00011001"
    assert marks("x\ny", "regex:^y") == "001"


def test_plain_text_toggles_quotes_and_skips_apostrophes():
    text = "He said \"don't\" and 'so' it's"
    dq = marks(text, "in_double_quotes", mode="plain")
    sq = marks(text, "in_single_quotes", mode="plain")
    o, c = text.index('"'), text.rindex('"')
    assert dq == "0" * o + "1" * (c - o) + "0" * (len(text) - c)
    so, sc = text.index("'so") , text.index("' it")
    assert sq == "0" * so + "1" * (sc - so) + "0" * (len(text) - sc)


def test_a_text_starting_inside_a_docstring_is_read_the_right_way_round():
    text = ('end of a docstring."""\n\n    def close(self):\n        """Stop."""\n        return 1\n\n'
            '    def other(self):\n        return "x"\n')
    got = marks(text, "in_string")
    assert got[0] == "1" and got[text.index("\n")] == "0"
    assert got[text.index("def close")] == "0"
    assert got[text.index("Stop")] == "1"
    assert got[text.index("x")] == "1"


def test_python_is_detected():
    assert probes.looks_like_python("import os\n\ndef f():\n    return 1\n")
    assert not probes.looks_like_python("It was a dark and stormy night.\nThe end.\n")


def test_bad_probe_names_and_patterns_are_usage_errors():
    with pytest.raises(UsageError, match="unknown probe"):
        probes.check_names(["quotes"])
    with pytest.raises(UsageError, match="regular expression"):
        probes.check_names(["regex:(("])
    with pytest.raises(UsageError):
        probes.check_names(["regex:"])
    assert probes.check_names(["in_string", "in_string"]) == ["in_string"]


def test_every_builtin_probe_has_one_float_per_character():
    text = "def f(x):\r\n    return 'a' + \"b\"  # note\n"
    got = probes.compute(text)
    assert list(got) == list(probes.BUILTIN)
    for v in got.values():
        assert v.shape == (len(text),) and v.dtype == np.float64


def test_bad_regex_probe_has_a_hint(tmp_path):
    ck = make_checkpoint(tmp_path / "m.npz", text=TEXT, hidden=6, layers=1)
    r = invoke("inspect-cells", ck, "--probe", "regex:(")
    assert r.exit_code == 2
    assert "error: invalid regular expression" in r.stderr and "hint: " in r.stderr
