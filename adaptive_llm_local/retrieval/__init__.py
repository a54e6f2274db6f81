"""Retrieval: a Chroma index over past job failures and docs.

One job per module. :mod:`.store` is the only module that imports ``chromadb``
(clients, collections, our registered embedding function). Pure logic:
:mod:`.source` (what a hit is), :mod:`.chunking` (files into chunks), :mod:`.records`
(entries, content-derived ids, what text is embedded), :mod:`.lexical` and
:mod:`.ranking` (hits, thresholds), :mod:`.queries` (reading a query),
:mod:`.calibration` (the thresholds and how they were measured). I/O: :mod:`.files`
(what users point at), :mod:`.builtin` (the troubleshooting guide and the installed
adaptive-scheduler's docstrings), :mod:`.ingest` (incremental, crash-safe sync),
:mod:`.embedder` (the local model, batched), :mod:`.lock` (one owner per persisted
folder), :mod:`.connection` (opening, checking and closing the collections),
:mod:`.search` (planning a search). :mod:`.index` ties them together. Importing this
package neither imports Chroma nor loads a model.
"""

from __future__ import annotations

from .connection import COLLECTIONS
from .index import Index, open_retriever
from .ingest import IngestReport, Progress
from .ranking import Thresholds
from .source import Source

__all__ = [
    "COLLECTIONS",
    "Index",
    "IngestReport",
    "Progress",
    "Source",
    "Thresholds",
    "open_retriever",
]
