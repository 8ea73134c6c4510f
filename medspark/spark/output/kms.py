"""medspark's Parquet key-management client as a jar: the one inside the installed package
(built into the wheel by scripts/build-kms-jar.sh, or by the docker image's build stage), or
else compiled once from the Java source shipped in the package into a per-user cache.

Imports only the standard library and pyspark, so `python -m medspark.spark.output.kms JAR` builds
the jar on a machine that has a JDK and pyspark and nothing else of medspark's.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

JAVA_FOLDER = Path(__file__).resolve().parents[2] / "java"
PACKAGED_JAR = JAVA_FOLDER / "medspark-kms.jar"
SOURCE = JAVA_FOLDER / "org" / "medspark" / "crypto" / "EnvironmentKmsClient.java"
KMS_CLASS = "org.medspark.crypto.EnvironmentKmsClient"
_CLASSPATH_JARS = ("parquet-hadoop-", "parquet-common-", "hadoop-client-api-")


class JarUnavailable(RuntimeError):
    """No packaged jar and no JDK to compile one."""


def cache_folder() -> Path:
    """Where compiled jars are kept: $MEDSPARK_CACHE, else $XDG_CACHE_HOME/medspark."""
    if os.environ.get("MEDSPARK_CACHE"):
        return Path(os.environ["MEDSPARK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medspark"


def _javac() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "javac").is_file():
        return str(Path(home) / "bin" / "javac")
    return shutil.which("javac")


def _classpath() -> str:
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    chosen = [str(p) for p in sorted(jars.glob("*.jar")) if p.name.startswith(_CLASSPATH_JARS)]
    return os.pathsep.join(chosen)


def build_jar(target: Path) -> Path:
    """Compile the KMS client against the Parquet and Hadoop jars pyspark ships into `target`
    (written under a temporary name, then renamed)."""
    javac = _javac()
    if javac is None:
        raise JarUnavailable("no JDK (javac) to compile the Parquet key-management client")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as classes:
        subprocess.run(
            [javac, "--release", "17", "-d", classes, "-cp", _classpath(), str(SOURCE)],
            check=True,
            capture_output=True,
        )
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as handle:
            handle.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
            for compiled in sorted(Path(classes).rglob("*.class")):
                handle.write(compiled, compiled.relative_to(classes).as_posix())
        partial.replace(target)
    return target


def kms_jar() -> Path:
    """The jar to give Spark: the packaged one, or one compiled into the cache on first use."""
    if PACKAGED_JAR.is_file():
        return PACKAGED_JAR
    import pyspark

    digest = hashlib.sha256(SOURCE.read_bytes() + pyspark.__version__.encode()).hexdigest()
    cached = cache_folder() / f"medspark-kms-{digest[:16]}.jar"
    return cached if cached.is_file() else build_jar(cached)


if __name__ == "__main__":
    print(build_jar(Path(sys.argv[1]) if len(sys.argv) > 1 else PACKAGED_JAR))
