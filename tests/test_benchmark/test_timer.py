"""csnet_mmseg.benchmark.timer: medians over alternating rounds."""
import pytest

from csnet_mmseg.benchmark import Timing, time_callable, time_rounds


def _recorder():
    calls = []

    def make(name):
        return lambda: calls.append(name)

    return calls, make


def test_rounds_alternate_after_warmup():
    calls, make = _recorder()
    out = time_rounds({'a': make('a'), 'b': make('b')}, rounds=3, runs=2,
                      warmup=1)
    # warm-up once each in order, then a a b b | b b a a | a a b b
    assert ''.join(calls) == 'ab' + 'aabb' + 'bbaa' + 'aabb'
    assert list(out) == ['a', 'b']
    assert all(len(t.rounds) == 3 and min(t.rounds) >= 0
               for t in out.values())


def test_fixed_order_and_mean_per_round():
    calls, make = _recorder()
    out = time_rounds({'a': make('a'), 'b': make('b')}, rounds=2, runs=3,
                      per_round='mean', alternate=False)
    assert ''.join(calls) == 'aaabbb' * 2
    assert len(out['b'].rounds) == 2


def test_timing_statistics():
    t = Timing([3.0, 1.0, 2.0])
    assert (t.median, t.min, t.max) == (2.0, 1.0, 3.0)
    # paired ratio: the median of the per-round ratios, not of medians
    assert t.ratio(Timing([1.0, 1.0, 4.0])) == pytest.approx(1.0)
    assert Timing([2.0, 4.0]).ratio(Timing([1.0, 1.0])) == 3.0


def test_time_callable_and_bad_arguments():
    calls, make = _recorder()
    ms = time_callable(make('x'), warmup=2, repeats=5)
    assert len(calls) == 7 and ms >= 0
    with pytest.raises(ValueError, match='rounds >= 1'):
        time_rounds({'a': make('a')}, rounds=0)
    with pytest.raises(ValueError, match='per_round'):
        time_rounds({'a': make('a')}, per_round='max')
