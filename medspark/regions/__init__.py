"""Regions drawn on images by other objects (DICOM SEG, RT Structure Set) and the grids they are
placed on; below radiomics, volumes' exports and anything else that reads them."""
