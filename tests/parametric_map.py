"""A parametric map (Float or Double Float Pixel Data) made from real CT values."""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian


def float_map(dtype: str = "<f4") -> tuple[bytes, np.ndarray]:
    """pydicom's CT_small with its stored values times 1e-3 as float pixel data: (file, values)."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    values = dataset.pixel_array.astype(dtype) * 1e-3
    del dataset.PixelData
    for name in (
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "RescaleSlope",
        "RescaleIntercept",
    ):
        delattr(dataset, name)
    dataset.BitsAllocated = 32 if dtype == "<f4" else 64
    keyword = "FloatPixelData" if dtype == "<f4" else "DoubleFloatPixelData"
    setattr(dataset, keyword, values.tobytes())
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue(), values
