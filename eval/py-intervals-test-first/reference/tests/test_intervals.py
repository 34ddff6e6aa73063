import pytest

from intervals import merge


def test_empty():
    assert merge([]) == []


def test_nested_and_touching():
    assert merge([(1, 10), (2, 3)]) == [(1, 10)]
    assert merge([(1, 2), (2, 3)]) == [(1, 3)]


def test_error():
    with pytest.raises(ValueError):
        merge([(2, 1)])
