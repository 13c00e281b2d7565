import math

import pytest

from course_utils.report import HEADLINE_MIME, headline


def test_headline_displays_text_and_carries_the_number():
    bundle = headline("test loss", 104.56789, "nats")._repr_mimebundle_()
    assert bundle["text/plain"] == "Headline - test loss: 104.6 nats"
    assert bundle[HEADLINE_MIME]["value"] == pytest.approx(104.56789)
    assert bundle[HEADLINE_MIME]["text"] == "test loss: 104.6 nats"


def test_headline_rejects_nan_and_non_numbers():
    with pytest.raises(ValueError, match="diverged"):
        headline("loss", math.nan)
    with pytest.raises(TypeError, match="number"):
        headline("loss", "low")
    with pytest.raises(TypeError, match="non-empty"):
        headline("  ", 1.0)
