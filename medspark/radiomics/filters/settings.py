"""The settings of each IBSI 2 filter, one model per filter, told apart by `kind`.

Boundary conditions use IBSI 2's names: `constant` (zero padding), `nearest`, `periodic` and
`mirror` (symmetric, the edge voxel repeated).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from medspark.options import StrictOptions

Boundary = Literal["constant", "nearest", "periodic", "mirror"]
Dimensions = Literal["2d", "3d"]
Pooling = Literal["max", "mean", "min"]
LAWS_KERNELS = ("L3", "E3", "S3", "L5", "E5", "S5", "W5", "R5")


class _Filter(StrictOptions):
    boundary: Boundary = "mirror"

    def parameters(self) -> dict[str, Any]:
        """The settings that name this response map, as recorded beside its features (with
        the dimensions a filter takes from its kernels)."""
        return {**self.model_dump(exclude={"kind"}), "dimensions": self.dimensions}  # type: ignore[attr-defined]


class MeanFilter(_Filter):
    """IBSI 2 mean filter (S60F): the average over a cube (3d) or square (2d) of `size` voxels."""

    kind: Literal["mean"] = "mean"
    size: int = Field(15, ge=1)
    dimensions: Dimensions = "3d"

    @field_validator("size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("the mean filter's size must be odd")
        return value


class LaplacianOfGaussianFilter(_Filter):
    """IBSI 2 Laplacian of Gaussian (L6PA) of scale `sigma_mm`, its kernel cut at
    `truncate` sigmas."""

    kind: Literal["log"] = "log"
    sigma_mm: float = Field(gt=0)
    truncate: float = Field(4.0, gt=0)
    dimensions: Dimensions = "3d"


class LawsFilter(_Filter):
    """IBSI 2 Laws kernels (JTXT): one 1D kernel per axis in x, y[, z] order (`E5L5S5`); two
    kernels filter each slice. With `energy_delta`, the response becomes its energy map: the
    mean absolute response over a window of 2 delta + 1 voxels."""

    kind: Literal["laws"] = "laws"
    kernels: str
    rotation_invariant: bool = False
    pooling: Pooling = "max"
    energy_delta: int | None = Field(None, ge=0)

    @field_validator("kernels")
    @classmethod
    def _known_kernels(cls, value: str) -> str:
        parts = [value[i : i + 2].upper() for i in range(0, len(value), 2)]
        if len(parts) not in (2, 3) or any(p not in LAWS_KERNELS for p in parts):
            raise ValueError(f"kernels must be two or three of {', '.join(LAWS_KERNELS)}")
        return "".join(parts)

    @property
    def dimensions(self) -> Dimensions:
        return "2d" if len(self.kernels) == 4 else "3d"


class GaborFilter(_Filter):
    """IBSI 2 Gabor filter (Q88H) in the slice plane: scale `sigma_mm`, wavelength `lambda_mm`,
    aspect `gamma`, orientation `theta_deg`; the response is its modulus. `theta_step_deg`
    pools the orientations theta, theta + step, ... around the circle; `orthogonal_planes`
    filters the three orthogonal planes and pools them too (IBSI's 3D rotation invariance)."""

    kind: Literal["gabor"] = "gabor"
    sigma_mm: float = Field(gt=0)
    lambda_mm: float = Field(gt=0)
    gamma: float = Field(1.0, gt=0)
    theta_deg: float = 0.0
    theta_step_deg: float | None = Field(None, gt=0)
    orthogonal_planes: bool = False
    pooling: Pooling = "mean"

    @model_validator(mode="after")
    def _whole_turn(self) -> GaborFilter:
        if self.theta_step_deg is not None and not (360.0 / self.theta_step_deg).is_integer():
            raise ValueError("theta_step_deg must divide 360")
        return self


class SeparableWaveletFilter(_Filter):
    """IBSI 2 undecimated separable wavelet (25BO; stationary, a trous): `wavelet` is a PyWavelets
    name (haar, db2, coif1, ...), `configuration` the low/high-pass choice per axis in x, y[, z]
    order (`LHL`), `level` the decomposition level."""

    kind: Literal["wavelet"] = "wavelet"
    wavelet: str
    configuration: str
    level: int = Field(1, ge=1, le=6)
    rotation_invariant: bool = False
    pooling: Pooling = "mean"

    @field_validator("wavelet")
    @classmethod
    def _known_wavelet(cls, value: str) -> str:
        import pywt

        if value not in pywt.wavelist(kind="discrete"):
            raise ValueError(f"{value!r} is not a discrete wavelet PyWavelets knows")
        return value

    @field_validator("configuration")
    @classmethod
    def _low_high(cls, value: str) -> str:
        value = value.upper()
        if len(value) not in (2, 3) or set(value) - {"L", "H"}:
            raise ValueError("configuration must be two or three of L and H")
        return value

    @property
    def dimensions(self) -> Dimensions:
        return "2d" if len(self.configuration) == 2 else "3d"


class SimoncelliWaveletFilter(_Filter):
    """IBSI 2 Simoncelli non-separable wavelet (LODD): the isotropic band-pass of decomposition
    `level`, applied in the Fourier domain (so its boundary is always periodic)."""

    kind: Literal["simoncelli"] = "simoncelli"
    boundary: Boundary = "periodic"
    level: int = Field(1, ge=1, le=6)
    dimensions: Dimensions = "3d"

    @field_validator("boundary")
    @classmethod
    def _periodic(cls, value: str) -> str:
        if value != "periodic":
            raise ValueError("the Simoncelli wavelet is applied in the Fourier domain: periodic")
        return value


ImageFilter = Annotated[
    MeanFilter
    | LaplacianOfGaussianFilter
    | LawsFilter
    | GaborFilter
    | SeparableWaveletFilter
    | SimoncelliWaveletFilter,
    Field(discriminator="kind"),
]
