"""Using a trained model: translating new videos (``Translator``) and exporting a self-contained model folder.

>>> from prep.inference import Translator, export_model                        # doctest: +SKIP
>>> export_model("runs/stage2", "models/stage2")                               # doctest: +SKIP
>>> Translator.from_pretrained("models/stage2").translate("clip.mp4")          # doctest: +SKIP
"""

from .export import export_model, is_export
from .translator import Translator, descriptions_for

__all__ = ["Translator", "descriptions_for", "export_model", "is_export"]
