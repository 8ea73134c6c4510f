"""Which instances may carry patient data burned into their pixels, which headers cannot clean."""

from __future__ import annotations

# SOP classes that commonly carry burned-in text: screen captures, ultrasound, visible light.
RISKY_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image
        "1.2.840.10008.5.1.4.1.1.77.1.1",  # VL Endoscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.1.1",  # Video Endoscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.2",  # VL Microscopic Image
        "1.2.840.10008.5.1.4.1.1.77.1.4",  # VL Photographic Image
        "1.2.840.10008.5.1.4.1.1.77.1.4.1",  # Video Photographic Image
    }
)


def may_carry_burned_in(sop_class_uid: str | None, burned_in_annotation: str | None) -> bool:
    """True when BurnedInAnnotation is YES, or absent for a SOP class known to carry it.

    An explicit NO is trusted: the modality or a cleaning step has declared the pixels clean.
    """
    flag = (burned_in_annotation or "").strip().upper()
    if flag == "YES":
        return True
    if flag == "NO":
        return False
    return (sop_class_uid or "") in RISKY_SOP_CLASSES
