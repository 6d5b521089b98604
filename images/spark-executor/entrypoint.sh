#!/usr/bin/env bash
# Starts a Spark executor the way Spark's Kubernetes backend asks for one
# (container args `executor`, settings in SPARK_* variables), like the
# entrypoint of Spark's own images, which the pyspark package does not ship.
set -euo pipefail
case "${1:-}" in
  executor)
    shift
    java_opts=()
    # SPARK_JAVA_OPT_0, _1, … carry the driver-side executor JVM options.
    while IFS='=' read -r name value; do
      java_opts+=("$value")
    done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n)
    exec java "${java_opts[@]}" \
      -Xms"${SPARK_EXECUTOR_MEMORY}" -Xmx"${SPARK_EXECUTOR_MEMORY}" \
      -cp "${SPARK_HOME}/conf:${SPARK_HOME}/jars/*${SPARK_EXTRA_CLASSPATH:+:$SPARK_EXTRA_CLASSPATH}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" \
      --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" \
      --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME}" \
      "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
