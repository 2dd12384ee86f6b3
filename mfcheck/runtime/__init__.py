"""Where the work runs: the content cache of finished cells and the executors (serial, joblib,
dask) that map a function over the cells of a sweep. Imports nothing of mfcheck but
:mod:`mfcheck.errors`."""
