"""The ground floor's shared words: result columns and type names, schemas and catalogs.

Several layers speak of the same things: engines produce result columns and read schemas, the
SQL analysis looks names up in a catalog, result storage keeps column metadata, the question
path retrieves tables. Those words live here, below all of them, so that none of those layers
imports another just to name a column. Nothing here imports from the rest of sqlgate.
"""
