"""Repositories over PyMongo's AsyncMongoClient; documents never leave this package."""
