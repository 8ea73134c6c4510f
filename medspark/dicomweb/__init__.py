"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) as a place instances are listed, read and sent to.

Knows nothing of Spark: the listing and reading here are called per series and per instance
by the same workers that walk folders and read files.
"""
