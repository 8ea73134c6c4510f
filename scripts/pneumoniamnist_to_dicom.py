"""Wrap PneumoniaMNIST chest X-rays as DICOM, one patient per image, with a labels file.

    python scripts/pneumoniamnist_to_dicom.py NPZ OUT_DIR [--per-class N] [--seed S] [--keep-splits]

Writes OUT_DIR/images/IMnnnnn (Computed Radiography, 28x28, 8-bit) and OUT_DIR/labels.csv
(patient_id,label with label normal or pneumonia). The source gives no patient ids, so each
image is its own patient, PNMnnnnn. With --keep-splits every image of the file is written and
the labels file gains a `split` column: `train` for the source's training split, `test` for its
validation split, so medspark holds out exactly the images the source set aside.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from pydicom.uid import ComputedRadiographyImageStorage

from medspark.dicom.write import array_to_dicom

CLASS_NAMES = ("normal", "pneumonia")


def wrap(npz: Path, out: Path, per_class: int, seed: int = 7, keep_splits: bool = False) -> Path:
    """Write `per_class` images of each class (all of them when 0 or with keep_splits);
    returns the labels file."""
    data = np.load(npz)
    images = np.concatenate([data["train_images"], data["val_images"]])
    labels = np.concatenate([data["train_labels"], data["val_labels"]]).ravel()
    training = len(data["train_labels"])
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            if per_class and not keep_splits
            else np.flatnonzero(labels == c)
            for c in (0, 1)
        ]
    )
    if keep_splits:
        chosen = np.sort(chosen)
    (out / "images").mkdir(parents=True, exist_ok=True)
    labels_file = out / "labels.csv"
    with labels_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "label", *(["split"] if keep_splits else [])])
        for number, index in enumerate(chosen):
            patient = f"PNM{number:05d}"
            array_to_dicom(
                images[index].astype(np.uint8),
                out / "images" / f"IM{number:05d}",
                sop_class_uid=ComputedRadiographyImageStorage,
                modality="CR",
                patient_id=patient,
            )
            split = ["train" if index < training else "test"] if keep_splits else []
            writer.writerow([patient, CLASS_NAMES[int(labels[index])], *split])
    return labels_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("npz", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=0, help="0: every image")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep-splits", action="store_true", help="every image, with the source's split"
    )
    args = parser.parse_args()
    print(wrap(args.npz, args.out, args.per_class, args.seed, args.keep_splits))


if __name__ == "__main__":
    main()
