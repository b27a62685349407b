"""Text in: vocabularies, reading and caching a corpus, training streams, pairs files."""
