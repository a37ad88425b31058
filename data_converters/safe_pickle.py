"""Load an untrusted pickled pandas DataFrame without running code from it.

Unpickling calls whatever callables the file names (``os.system`` included), so every
global is refused except an explicit allow-list: the numpy/pandas classes and helpers
that a DataFrame of numpy arrays references. The list was found by recording
``find_class`` while unpickling DataFrames written by pandas 2.3 / numpy 2.3 with
protocols 2-5 (3-D and flattened image columns, object columns of arrays, string,
categorical, int, float and bool columns, RangeIndex and other indexes), plus the
older names numpy 1.x and pandas 1.x wrote for the same things (see RENAMED).
"""
import pickle

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


class SafeUnpickler(pickle.Unpickler):
    """An Unpickler whose ``find_class`` admits only :data:`ALLOWED`."""

    def __init__(self, file, path):
        super().__init__(file)
        self.path = path

    def find_class(self, module, name):
        module, name = RENAMED.get((module, name), (module, name))
        if (module, name) not in ALLOWED:
            raise ConversionError(
                self.path, f'refused to unpickle the global {module}.{name}: only the numpy/'
                'pandas classes a DataFrame needs are allowed (the file may be malicious)')
        return super().find_class(module, name)


def load_dataframe(path):
    """Unpickle ``path`` safely and return the pandas DataFrame it holds."""
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
    return obj
