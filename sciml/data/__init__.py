"""The shared PDE data layer: the HDF5 file format, datasets over it, recipes, readers.

Writing your own data takes the writer API re-exported here (``docs/data-format.md``)::

    from sciml.data import DatasetLayout, FieldLayout, write_dataset

or ``sciml import`` for arrays in an ``.npz`` / torch ``.pt`` file (:mod:`sciml.data.importers`).
"""

from sciml.data.format import (
    DataFileError,
    DatasetFile,
    DatasetLayout,
    DatasetWriter,
    FieldLayout,
    write_dataset,
)

__all__ = [
    "DataFileError",
    "DatasetFile",
    "DatasetLayout",
    "DatasetWriter",
    "FieldLayout",
    "write_dataset",
]
