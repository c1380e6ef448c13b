"""Datasets: the table contract, reading and writing, import, validation, synthetic data."""

from analysis.data.contract import TABLES, table
from analysis.data.dataset import Dataset, DatasetWriter, load_dataset

__all__ = ["TABLES", "Dataset", "DatasetWriter", "load_dataset", "simulate", "table"]


def __getattr__(name):
    if name == "simulate":
        from analysis.data.synthetic import simulate

        return simulate
    raise AttributeError(name)
