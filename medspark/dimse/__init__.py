"""DICOM networking (DIMSE, with pynetdicom): receive by C-STORE, pull by C-FIND and C-GET or
C-MOVE into a landing folder that `medspark etl` takes, and send by C-STORE."""
