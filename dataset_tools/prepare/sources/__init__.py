"""Readers of raw dataset formats, one module per format.

=============  ==========================================================================
module         reads
=============  ==========================================================================
raw_layout     ``interactions.txt`` (``user item`` per line, file order = time) + ``items.jsonl``
atomic         RecBole atomic files: ``.inter`` (+ ``.item``), fields from the ``name:type`` header
amazon2014     ``reviews_<Cat>[_5].json.gz`` (JSON lines) + ``meta_<Cat>.json.gz`` (Python literals)
amazon2018     ``<Cat>[_5].json.gz`` + ``meta_<Cat>.json.gz`` (JSON lines)
amazon2023     ``<Cat>.jsonl[.gz]`` + ``meta_<Cat>.jsonl[.gz]`` (JSON lines, ``parent_asin``, ms)
movielens      ml-1m (``ratings.dat``/``movies.dat``, ``::``) and ml-20m (``ratings.csv``/``movies.csv``)
yelp           ``yelp_academic_dataset_review.json`` + ``..._business.json``
steam          ``steam_reviews.json.gz`` + ``steam_games.json.gz`` (Python literals)
=============  ==========================================================================

Shared pieces: ``lines`` (plain/gzip lines, hashing, strict one-line parsing errors),
``records`` (one interaction or item record per line, checked field by field),
``registry`` (format name -> reader, file resolution). This package's ``__init__`` stays
import-free: ``prepare.read`` imports ``lines``.
"""
