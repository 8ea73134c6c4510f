#!/usr/bin/env bash
# Entry point for the medspark image.
#   driver | executor   what Spark on Kubernetes passes to driver and executor pods
#   master | worker     a standalone master or worker (compose.yaml)
#   anything else       run as a command (medspark …, spark-submit …)
set -euo pipefail

spark_class() { exec "${SPARK_HOME}/bin/spark-class" "$@"; }

case "${1:-}" in
  driver)
    shift
    exec "${SPARK_HOME}/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client "$@"
    ;;
  executor)
    spark_class org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "${SPARK_DRIVER_URL}" \
      --executor-id "${SPARK_EXECUTOR_ID}" \
      --cores "${SPARK_EXECUTOR_CORES}" \
      --app-id "${SPARK_APPLICATION_ID}" \
      --hostname "${SPARK_EXECUTOR_POD_IP}" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME}"
    ;;
  master)
    shift
    spark_class org.apache.spark.deploy.master.Master --host "$(hostname)" "$@"
    ;;
  worker)
    shift
    spark_class org.apache.spark.deploy.worker.Worker --work-dir /opt/medspark/work "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
