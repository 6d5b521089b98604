#!/usr/bin/env bash
# Installs Spark (from the pyspark package, which ships the Spark Connect
# server jars) into SPARK_HOME, plus hadoop-aws and the matching AWS SDK v2
# bundle for s3a:// (from Maven Central, checksum-verified).
#   install-spark.sh SPARK_HOME
# Versions here must match between the single-user and executor images.
set -euo pipefail
spark_home="${1:?usage: install-spark.sh SPARK_HOME}"
python="${PYTHON:-python3}"
PYSPARK_VERSION=4.3.0
HADOOP_AWS_VERSION=3.5.0
AWS_SDK_BUNDLE_VERSION=2.29.52
MAVEN="${MAVEN_REPOSITORY:-https://repo1.maven.org/maven2}"

"$python" -m pip install --no-cache-dir "pyspark==${PYSPARK_VERSION}"
pyspark_dir="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
mkdir -p "$(dirname "$spark_home")"
ln -sfn "$pyspark_dir" "$spark_home"

fetch() {
  local path="$1" jar
  jar="$spark_home/jars/$(basename "$path")"
  curl -fsSL --retry 3 -o "$jar" "$MAVEN/$path"
  curl -fsSL --retry 3 -o "$jar.sha1" "$MAVEN/$path.sha1"
  echo "$(cut -c1-40 "$jar.sha1")  $jar" | sha1sum -c -
  rm "$jar.sha1"
}
if [ "${QUARRY_SKIP_MAVEN:-0}" != "1" ]; then
  fetch "org/apache/hadoop/hadoop-aws/${HADOOP_AWS_VERSION}/hadoop-aws-${HADOOP_AWS_VERSION}.jar"
  fetch "software/amazon/awssdk/bundle/${AWS_SDK_BUNDLE_VERSION}/bundle-${AWS_SDK_BUNDLE_VERSION}.jar"
fi
ls "$spark_home/jars/spark-connect_"*.jar
