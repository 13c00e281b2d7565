"""The latent explorer: sliders over a trained VAE's latent space.

* ``widget``: ``LatentExplorer`` (an anywidget) and the static page version;
* ``page_decoder``: a decoder exported to JSON so that the page decodes without a
  kernel;
* ``js/``: the front end, one ES module.
"""

from course_utils.explorer.page_decoder import (
    SPEC_FORMAT,
    SPEC_VERSION,
    decode_with_spec,
    export_decoder,
    try_export_decoder,
)
from course_utils.explorer.widget import (
    ExplorerWidget,
    LatentExplorer,
    clean_image_index,
    explorer_module_source,
    image_to_uint8,
    latent_explorer,
    render_png,
    static_explorer_data,
    static_explorer_html,
)

__all__ = [
    "SPEC_FORMAT",
    "SPEC_VERSION",
    "decode_with_spec",
    "export_decoder",
    "try_export_decoder",
    "ExplorerWidget",
    "LatentExplorer",
    "clean_image_index",
    "explorer_module_source",
    "image_to_uint8",
    "latent_explorer",
    "render_png",
    "static_explorer_data",
    "static_explorer_html",
]
