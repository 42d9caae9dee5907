"""One contract suite run unchanged against every engine through the HTTP API (Chinook data)."""
