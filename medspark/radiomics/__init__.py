"""Radiomics: IBSI feature families over expert regions (DICOM SEG, RTSTRUCT) or Otsu masks."""
