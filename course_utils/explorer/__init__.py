"""The latent explorer: sliders over a trained VAE's latent space.

* ``widget``: ``LatentExplorer`` (an anywidget) and the static page version;
* ``page_decoder``: a decoder exported to JSON so that the page decodes without a
  kernel;
* ``js/``: the front end, one ES module.
"""

from course_utils.explorer import page_decoder, widget
from course_utils.explorer.page_decoder import *
from course_utils.explorer.widget import *

# Every public name of the modules above; each module's __all__ is the one list.
__all__ = sorted({
    *page_decoder.__all__,
    *widget.__all__,
})
