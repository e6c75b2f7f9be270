"""csnet_mmseg.benchmark.report: the markdown writer and number formats."""
from csnet_mmseg.benchmark import fmt_ms, fmt_ratio, markdown_table


def test_markdown_table():
    assert markdown_table(['a', 'b'], [[1, 'x'], ['2', 'y']]) == [
        '| a | b |', '|---|---|', '| 1 | x |', '| 2 | y |'
    ]
    assert markdown_table(['only'], []) == ['| only |', '|---|']


def test_formats():
    assert fmt_ms(None) == 'n/a' and fmt_ratio(None) == 'n/a'
    assert fmt_ms(12.345) == '12.3' and fmt_ms(9.876) == '9.88'
    assert fmt_ratio(2.5) == '2.50x'

