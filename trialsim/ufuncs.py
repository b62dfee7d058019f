"""scipy.special's ufuncs without importing the scipy.special package: `from .ufuncs import special`.

`import scipy.special` costs ~0.3 s before a first trial, nearly all of it the package's array-API
layer (array_api_compat clones numpy's namespace, which imports numpy.f2py, numpy.testing, ...).
The functions trialsim uses before a first trial (ndtr, betaln, betaincinv, ...) are numpy ufuncs
defined in the extension module scipy.special._ufuncs, the very objects scipy.special exports
(tests/test_kernels.py checks it). So this module imports that extension under a stand-in parent
package and then removes the stand-in: a later `import scipy.special` runs the package as usual and
reuses the loaded extension. If scipy.special is already imported, or anything fails, `special` is
scipy.special itself. Functions that are not ufuncs (logsumexp, ...) need `from scipy import special`.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path


def _ufuncs() -> types.ModuleType | None:
    if "scipy.special" in sys.modules:
        return sys.modules["scipy.special"]
    import scipy

    stand_in = types.ModuleType("scipy.special")
    stand_in.__path__ = [str(Path(scipy.__file__).parent / "special")]
    sys.modules["scipy.special"] = stand_in
    try:
        return importlib.import_module("scipy.special._ufuncs")
    except Exception:  # a scipy whose extension needs its package: the package, as usual (slower, same functions)
        return None
    finally:
        if sys.modules.get("scipy.special") is stand_in:
            del sys.modules["scipy.special"]


def _special() -> types.ModuleType:
    ufuncs = _ufuncs()
    return ufuncs if ufuncs is not None else importlib.import_module("scipy.special")


special = _special()
