"""Load MMEngine checkpoints under torch's ``weights_only=True`` default (torch >= 2.6).

MMEngine 0.10.7 calls ``torch.load`` without ``weights_only``, so torch 2.14 refuses its
checkpoints ("Unsupported global numpy._core.multiarray._reconstruct"). Turning the
protection off would let a downloaded checkpoint run arbitrary code, which a medical tool
must not allow. Instead we add to torch's allow-list the few *data-only* globals that
MMEngine checkpoints contain: numpy arrays, dtypes and scalars, ``_codecs.encode`` (numpy
byte buffers), MMEngine's ``HistoryBuffer`` and ``ConfigDict``. ``HistoryBuffer`` pickles
its statistics methods as ``getattr(HistoryBuffer, 'mean')``; a general ``getattr`` would
open the door to code execution, so the name ``builtins.getattr`` is bound to a function
that resolves only those registered statistics methods. Anything else is still refused.
"""
import codecs
import pickle

import numpy as np
import torch
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer


def history_buffer_method(obj, name):
    """The only ``getattr`` a checkpoint may call: a HistoryBuffer statistics method."""
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name, None) or HistoryBuffer._statistics_methods[name]
    raise pickle.UnpicklingError(
        f'refused getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) in a '
        'checkpoint: only HistoryBuffer statistics methods are allowed')


def _numpy_globals():
    names = [np._core.multiarray._reconstruct, np._core.multiarray.scalar, np.ndarray, np.dtype]
    names += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
    return names


SAFE_GLOBALS = _numpy_globals() + [
    HistoryBuffer, ConfigDict, (codecs.encode, '_codecs.encode'),
    (history_buffer_method, 'builtins.getattr'), (history_buffer_method, '__builtin__.getattr')]
torch.serialization.add_safe_globals(SAFE_GLOBALS)
