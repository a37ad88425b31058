"""Load an untrusted pickled pandas DataFrame without running code from it.

Unpickling calls whatever callables the file names (``os.system`` included), so every
global is refused except an explicit allow-list: the numpy/pandas classes and helpers
that a DataFrame of numpy arrays references. The list was found by recording
``find_class`` while unpickling DataFrames written by pandas 2.3 / numpy 2.3 with
protocols 2-5 (3-D and flattened image columns, object columns of arrays, string,
categorical, int, float and bool columns, RangeIndex and other indexes), plus the
older names numpy 1.x and pandas 1.x wrote for the same things (see RENAMED).

Allowed globals are still dangerous in the wrong hands, so the loader also checks how
they are used (found by fuzzing, tests/test_fuzz/test_fuzz_parsers.py):

- no class is called as a constructor except the few a DataFrame pickle calls
  (``numpy.ndarray((10**9,), 'O')`` or ``DataFrame(None, huge_index, columns)`` would
  allocate gigabytes); ``numpy.ndarray`` may only be named as ``_reconstruct``'s first
  argument, and ``_reconstruct`` only makes the empty array that numpy's pickles fill;
- the state given to a numpy dtype must be the dtype's own (a ``uint8`` that claims to
  hold objects makes numpy write pointers into bytes), the state of an array must list
  exactly as many items or bytes as its shape needs (numpy leaves the rest
  uninitialised, and reading them crashes the interpreter), and a Categorical's codes
  must index its categories (pandas reads out of bounds otherwise);
- the unpickler is the pure-Python one, whose memo is a dict: the C one grows its memo
  table to any index an opcode names (one 6-byte opcode asks for gigabytes), and lengths
  announced in the stream are never allocated before the bytes are there.

Those checks rest on internals of pickle, numpy and pandas (``pickle._Unpickler``, the
names a DataFrame pickle uses, the block manager), which an upgrade may change. So the
untrusted file is never unpickled in the converter's own process: :func:`load_dataframe`
unpickles it in a forked child under a memory and CPU-time limit (:mod:`.pickle_sandbox`).
An upgrade that breaks an assumption then costs a refused file, not a crashed or
exhausted converter: a child that dies, runs out of memory or time is reported as one
``ConversionError`` naming the file. The allow-list stays what keeps code from running:
a global it does not name is refused in any version. The child hands the checked frame
back as pandas' own pickle of it, which the parent reads with the same allow-list.
"""
import io
import math
import os
import pickle
import struct

import numpy as np

from .errors import ConversionError

ALLOWED = frozenset({
    # protocol 2 spells builtins '__builtin__' and pickles bytes via _codecs.encode
    ('builtins', 'slice'), ('__builtin__', 'slice'), ('_codecs', 'encode'),
    # numpy arrays, dtypes and scalars
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy._core.multiarray', '_reconstruct'), ('numpy._core.multiarray', 'scalar'),
    ('numpy._core.numeric', '_frombuffer'),
    # the DataFrame, its columns and indexes, its block manager
    ('pandas.core.frame', 'DataFrame'), ('pandas.core.series', 'Series'),
    ('pandas.core.indexes.base', 'Index'), ('pandas.core.indexes.base', '_new_Index'),
    ('pandas.core.indexes.range', 'RangeIndex'),
    ('pandas.core.internals.managers', 'BlockManager'),
    ('pandas.core.internals.managers', 'SingleBlockManager'),
    ('pandas._libs.internals', '_unpickle_block'),
    ('pandas._libs.arrays', '__pyx_unpickle_NDArrayBacked'),
    # string and categorical columns (e.g. ``patient_id``, ``set``)
    ('pandas.core.arrays.string_', 'StringArray'), ('pandas.core.arrays.string_', 'StringDtype'),
    ('pandas._libs.missing', 'NA'),
    ('pandas.core.arrays.categorical', 'Categorical'),
    ('pandas.core.dtypes.dtypes', 'CategoricalDtype'),
})
# Older writers named some of the same things differently: numpy 1.x wrote numpy.core,
# pandas 1.x wrote integer and float indexes (e.g. after filtering rows) as classes that
# are now plain Index (pandas' own pickle_compat maps them the same way).
RENAMED = {
    **{('numpy.core.multiarray', n): ('numpy._core.multiarray', n)
       for n in ('_reconstruct', 'scalar')},
    ('numpy.core.numeric', '_frombuffer'): ('numpy._core.numeric', '_frombuffer'),
    **{('pandas.core.indexes.numeric', n): ('pandas.core.indexes.base', 'Index')
       for n in ('Int64Index', 'UInt64Index', 'Float64Index', 'NumericIndex')},
}


# Classes that a DataFrame pickle calls as constructors (REDUCE); calling any other
# allowed class is refused.
CONSTRUCTIBLE = frozenset({
    ('builtins', 'slice'), ('pandas.core.arrays.string_', 'StringDtype'),
    ('pandas.core.internals.managers', 'BlockManager'),
    ('pandas.core.internals.managers', 'SingleBlockManager'),
})
DTYPE_KINDS = 'biufcOSU'        # plain numeric, bool, object and string dtypes


class _ArrayClass:
    """Stands for ``numpy.ndarray`` in the stream: it may only be passed to _reconstruct."""

    def __repr__(self):
        return 'numpy.ndarray'


_NDARRAY = _ArrayClass()


class _BoundedFile:
    """A binary file whose ``read(n)`` never asks for more than what is left in it, so a
    length announced in the stream (up to 2**64) is never allocated before the bytes are
    there."""

    def __init__(self, file):
        self.file, self.readline = file, file.readline
        try:
            position = file.tell()
            self.end = file.seek(0, io.SEEK_END)
            file.seek(position)
        except (AttributeError, OSError, ValueError):
            self.end = None

    def read(self, n=-1):
        if n is not None and n >= 0 and self.end is not None:
            n = min(n, max(0, self.end - self.file.tell()))
        return self.file.read(n)

    def readinto(self, buffer):
        return self.file.readinto(buffer)


def _name(obj):
    return f'{getattr(obj, "__module__", "?")}.{getattr(obj, "__qualname__", type(obj).__name__)}'


class SafeUnpickler(pickle._Unpickler):
    """An Unpickler whose ``find_class`` admits only :data:`ALLOWED`, and which checks
    how those are used (see the module docstring)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, path):
        super().__init__(_BoundedFile(file))
        self.path = path

    def _refuse(self, what):
        raise ConversionError(self.path, f'refused to unpickle {what} (the file may be '
                              'malicious or corrupt)')

    def find_class(self, module, name):
        module, name = RENAMED.get((module, name), (module, name))
        if (module, name) not in ALLOWED:
            raise ConversionError(
                self.path, f'refused to unpickle the global {module}.{name}: only the numpy/'
                'pandas classes a DataFrame needs are allowed (the file may be malicious)')
        guarded = {('numpy', 'ndarray'): _NDARRAY, ('numpy', 'dtype'): self._dtype,
                   ('numpy._core.multiarray', '_reconstruct'): self._reconstruct,
                   ('numpy._core.multiarray', 'scalar'): self._scalar,
                   ('_codecs', 'encode'): self._encode,
                   ('pandas._libs.internals', '_unpickle_block'): self._unpickle_block,
                   }.get((module, name))
        if guarded is not None:
            return guarded
        return super().find_class(module, name)

    # ----------------------------------------------------------- guarded numpy helpers
    def _dtype(self, spec, align=False, copy=False):
        if not isinstance(spec, str):
            self._refuse(f'numpy.dtype({type(spec).__name__}): only plain dtypes are allowed')
        dtype = np.dtype(spec, bool(align), bool(copy))
        if (dtype.kind not in DTYPE_KINDS or dtype.fields is not None
                or dtype.subdtype is not None or not dtype.itemsize):
            self._refuse(f'the numpy dtype {spec!r}: only plain numeric, object and string '
                         'dtypes are allowed')
        return dtype

    def _reconstruct(self, subtype, shape, dtype):
        from numpy._core.multiarray import _reconstruct
        if subtype is not _NDARRAY:
            self._refuse(f'numpy _reconstruct of {subtype!r}')
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)
        if not (isinstance(shape, tuple) and all(type(n) is int for n in shape)
                and math.prod(shape) == 0):
            self._refuse(f'numpy _reconstruct with shape {shape!r} (numpy pickles start from '
                         'an empty array)')
        return _reconstruct(np.ndarray, shape, dtype)

    def _scalar(self, dtype, data):
        from numpy._core.multiarray import scalar
        if not (isinstance(dtype, np.dtype) and not dtype.hasobject and isinstance(data, bytes)
                and len(data) == dtype.itemsize):
            self._refuse('a numpy scalar whose bytes do not match its dtype')
        return scalar(dtype, data)

    def _unpickle_block(self, values, placement, ndim):
        from pandas import Index
        from pandas._libs.internals import _unpickle_block
        from pandas.api.extensions import ExtensionArray
        if isinstance(values, Index) or not isinstance(values, (np.ndarray, ExtensionArray)):
            # e.g. a RangeIndex of 10**10 rows, materialised later
            self._refuse(f'a DataFrame block holding a {type(values).__name__}')
        return _unpickle_block(values, placement, ndim)

    def _encode(self, text, encoding='utf-8', errors='strict'):
        if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
            self._refuse(f'_codecs.encode(..., {encoding!r}): only latin1 text, as pickles of '
                         'bytes use it, is allowed')
        return text.encode('latin1')

    # ----------------------------------------------------------- opcodes with checks
    def _check_result(self, obj):
        """Objects whose state pandas trusts: a Categorical's codes must index its
        categories (pandas takes values with them without bounds checks)."""
        from pandas import Categorical
        if isinstance(obj, Categorical) and getattr(obj, '_ndarray', None) is not None:
            codes = np.asarray(obj.codes)     # (None until its state is set by BUILD)
            if codes.size and (codes.min() < -1 or codes.max() >= len(obj.categories)):
                self._refuse(f'a Categorical with codes outside its {len(obj.categories)} '
                             'categories')

    def load_reduce(self):
        func = self.stack[-2]
        if func is _NDARRAY or (isinstance(func, type)
                                and (func.__module__, func.__qualname__) not in CONSTRUCTIBLE):
            self._refuse(f'a call of {_name(func) if func is not _NDARRAY else func}(...): '
                         'constructors are not called when a DataFrame is unpickled')
        pickle._Unpickler.load_reduce(self)
        self._check_result(self.stack[-1])
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self):
        args = self.stack[-1]
        if type(args) is not tuple or args:
            self._refuse(f'{_name(self.stack[-2])}.__new__ with arguments')
        pickle._Unpickler.load_newobj(self)
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        args, kwargs = self.stack[-2], self.stack[-1]
        if type(args) is not tuple or args or type(kwargs) is not dict or kwargs:
            self._refuse(f'{_name(self.stack[-3])}.__new__ with arguments')
        pickle._Unpickler.load_newobj_ex(self)
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_inst_or_obj(self):
        self._refuse('an INST/OBJ opcode (a constructor call of a protocol 0/1 class)')
    dispatch[pickle.INST[0]] = load_inst_or_obj
    dispatch[pickle.OBJ[0]] = load_inst_or_obj

    def load_bytearray8(self):
        size, = struct.unpack('<Q', self.read(8))
        data = self.read(size)
        if len(data) != size:
            raise pickle.UnpicklingError(f'BYTEARRAY8 of {size} bytes, only {len(data)} left')
        self.append(bytearray(data))
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def load_build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.dtype):
            self._check_dtype_state(inst, state)
        elif isinstance(inst, np.ndarray):
            self._check_array_state(state)
        pickle._Unpickler.load_build(self)
        self._check_result(inst)
    dispatch[pickle.BUILD[0]] = load_build

    def _check_dtype_state(self, dtype, state):
        own = dtype.__reduce__()[2]
        ok = (type(state) is tuple and len(state) == len(own)
              and all(type(a) is type(b) and a == b for a, b in zip(state[2:], own[2:]))
              and type(state[0]) is int and state[0] == own[0]
              and (state[1] == own[1] or (own[1] in ('<', '>', '=') and state[1] in ('<', '>'))))
        if not ok:
            self._refuse(f'a state for the numpy dtype {dtype} that is not its own')

    def _check_array_state(self, state):
        ok = type(state) is tuple and len(state) == 5
        if ok:
            version, shape, dtype, fortran, data = state
            ok = (type(version) is int and version == 1 and type(shape) is tuple
                  and all(type(n) is int and n >= 0 for n in shape)
                  and isinstance(dtype, np.dtype) and fortran in (True, False))
        if ok:
            count = math.prod(shape)
            ok = (isinstance(data, list) and len(data) == count if dtype.hasobject else
                  isinstance(data, (bytes, bytearray)) and len(data) == count * dtype.itemsize)
        if not ok:
            self._refuse('a numpy array whose data does not match its shape and dtype')


def _check_frame(frame, path, size):
    """Check the block manager against its axes (a pickle can skip that check) and touch
    every column, so an inconsistent frame fails here, cleanly. Every row holds data, so
    a frame of more rows than the file has bytes is a lie (a lazy RangeIndex of 10**10
    rows costs nothing to unpickle and gigabytes to use)."""
    try:
        frame._mgr._verify_integrity()
        for i in range(frame.shape[1]):
            frame.iloc[:, i]
        rows = len(frame.index)
    except Exception as err:
        raise ConversionError(path, f'corrupt DataFrame in the pickle: {type(err).__name__}: '
                              f'{err}') from None
    if size is not None and rows > size:
        raise ConversionError(path, f'corrupt DataFrame in the pickle: {rows} rows in a file '
                              f'of {size} bytes')


def load_dataframe(path):
    """Unpickle ``path`` safely (in a resource-limited child process) and return the pandas
    DataFrame it holds; every failure is a :class:`ConversionError` naming ``path``."""
    from .pickle_sandbox import run_limited
    data = run_limited(_dataframe_pickle, path, budget_bytes=os.path.getsize(path)
                       if os.path.isfile(path) else 0)
    try:
        return SafeUnpickler(io.BytesIO(data), path).load()
    except ConversionError:
        raise
    except Exception as err:  # pandas' own pickle of a checked frame: not expected
        raise ConversionError(path, f'not a readable pickle: {type(err).__name__}: {err}') from None


def _dataframe_pickle(path):
    """In the child: load and check ``path``; return pandas' own pickle of the frame."""
    return pickle.dumps(load_dataframe_here(path), protocol=pickle.HIGHEST_PROTOCOL)


def load_dataframe_here(path):
    """Unpickle ``path`` in this process (the checks, without the child's limits)."""
    import pandas as pd
    try:
        with open(path, 'rb') as f:
            obj = SafeUnpickler(f, path).load()
    except ConversionError:
        raise
    except FileNotFoundError:
        raise ConversionError(path, 'pickle file not found') from None
    except Exception as err:  # untrusted bytes can fail in any way; report, don't crash
        raise ConversionError(path, f'not a readable pickle: {type(err).__name__}: {err}') from None
    if not isinstance(obj, pd.DataFrame):
        raise ConversionError(path, f'the pickle holds a {type(obj).__name__}, '
                              'not a pandas DataFrame')
    _check_frame(obj, path, os.path.getsize(path))
    return obj
