#!/usr/bin/env bash
# Compile medspark's Parquet KMS client (reads master keys from the environment) into
# medspark/java/medspark-kms.jar, against the Parquet and Hadoop jars pyspark ships.
# Needs a JDK (javac); without one, Parquet column encryption is unavailable and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
if ! command -v javac >/dev/null 2>&1; then
    echo "javac not found: skipping the Parquet KMS client (column encryption unavailable)" >&2
    exit 0
fi
jars=$("$python" -c 'import pyspark, pathlib; print(pathlib.Path(pyspark.__file__).parent / "jars")')
classpath=$(ls "$jars"/parquet-hadoop-*.jar "$jars"/parquet-common-*.jar "$jars"/hadoop-client-api-*.jar | paste -sd: -)
classes=$(mktemp -d)
javac --release 17 -d "$classes" -cp "$classpath" \
    medspark/java/org/medspark/crypto/EnvironmentKmsClient.java
jar --create --file medspark/java/medspark-kms.jar -C "$classes" .
rm -rf "$classes"
echo medspark/java/medspark-kms.jar
