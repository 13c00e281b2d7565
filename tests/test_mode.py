"""Tests for course_utils.mode: reading COURSE_FAST and choosing settings."""

from __future__ import annotations

import dataclasses

import pytest

from course_utils.mode import FAST_ENV, CourseMode, current_mode


def test_current_mode_env_var_name():
    assert FAST_ENV == "COURSE_FAST"


@pytest.mark.parametrize(
    "value", ["1", "true", "yes", "on", "TRUE", "True", "Yes", "ON", " 1 ", "true\n"]
)
def test_current_mode_true_values_give_fast(value):
    mode = current_mode({"COURSE_FAST": value})
    assert mode.fast is True
    assert mode.name == "fast"


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "  ", "FALSE", "Off"])
def test_current_mode_false_values_give_full(value):
    mode = current_mode({"COURSE_FAST": value})
    assert mode.fast is False
    assert mode.name == "full"


def test_current_mode_unset_gives_full():
    assert current_mode({}).fast is False
    assert current_mode({"OTHER": "1"}).fast is False


@pytest.mark.parametrize("value", ["2", "maybe", "fast", "-1", "yes please", "y"])
def test_current_mode_invalid_value_raises_helpful_error(value):
    with pytest.raises(ValueError, match=r"COURSE_FAST must be 1 or 0") as info:
        current_mode({"COURSE_FAST": value})
    message = str(info.value)
    assert repr(value.strip().lower()) in message  # shows what it got
    assert "true/false" in message and "yes/no" in message and "on/off" in message
    assert "COURSE_FAST=1" in message  # and how to fix it


def test_current_mode_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert current_mode().fast is True
    monkeypatch.setenv("COURSE_FAST", "0")
    assert current_mode().fast is False
    monkeypatch.delenv("COURSE_FAST")
    assert current_mode().fast is False
    monkeypatch.setenv("COURSE_FAST", "bogus")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        current_mode()


def test_current_mode_explicit_environ_overrides_os_environ(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert current_mode({}).fast is False


def test_course_mode_choose_picks_by_mode():
    assert CourseMode(fast=True).choose(fast=2, full=50) == 2
    assert CourseMode(fast=False).choose(fast=2, full=50) == 50
    fast_value, full_value = object(), object()
    assert CourseMode(fast=True).choose(fast=fast_value, full=full_value) is fast_value
    assert CourseMode(fast=False).choose(fast=fast_value, full=full_value) is full_value


def test_course_mode_choose_requires_keywords():
    with pytest.raises(TypeError):
        CourseMode(fast=True).choose(1, 2)


def test_course_mode_describe_names_the_mode():
    fast_text = CourseMode(fast=True).describe()
    full_text = CourseMode(fast=False).describe()
    assert fast_text.startswith("FAST mode") and "COURSE_FAST=1" in fast_text
    assert full_text.startswith("FULL mode") and "COURSE_FAST" in full_text


def test_course_mode_is_frozen():
    mode = CourseMode(fast=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mode.fast = False  # type: ignore[misc]
