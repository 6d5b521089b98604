#!/usr/bin/env bash
# The %spark end-to-end flow on a real Kubernetes cluster, for people who
# have one (kind or k3d with a working Docker); CI cannot run it.
#
#   tests/real_cluster/run.sh            # uses the current kubectl context
#   KIND_CLUSTER=quarry tests/real_cluster/run.sh   # creates/uses a kind cluster
#
# It builds both images from images/, loads them into the cluster, applies
# the namespace and the Spark RBAC, starts MinIO and a notebook pod running
# as the quarry-spark service account, and runs tests/real_cluster/flow.py in
# that pod: %spark start with 2 executor pods, a Spark query over s3a://
# (hadoop-aws is in the images), -i/-o round trips, %spark status, and stop
# leaving no session-labelled object behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ns=quarry-users
tag="${TAG:-dev}"
singleuser="quarry/singleuser:$tag"
executor="quarry/spark-executor:$tag"

if [ -n "${KIND_CLUSTER:-}" ]; then
  kind get clusters | grep -qx "$KIND_CLUSTER" || kind create cluster --name "$KIND_CLUSTER"
fi
docker build -t "$singleuser" -f "$root/images/singleuser/Dockerfile" "$root"
docker build -t "$executor" -f "$root/images/spark-executor/Dockerfile" "$root"
if [ -n "${KIND_CLUSTER:-}" ]; then
  kind load docker-image --name "$KIND_CLUSTER" "$singleuser" "$executor"
elif command -v k3d >/dev/null && [ -n "${K3D_CLUSTER:-}" ]; then
  k3d image import -c "$K3D_CLUSTER" "$singleuser" "$executor"
fi

kubectl apply -f "$root/images/k8s/user-namespace.yaml"
kubectl apply -f "$root/images/k8s/spark-rbac.yaml"

# MinIO with a fixed root user stands in for the platform's S3.
kubectl -n "$ns" delete pod minio notebook --ignore-not-found --wait
kubectl -n "$ns" run minio --image=minio/minio:latest --port=9000 \
  --env=MINIO_ROOT_USER=quarry --env=MINIO_ROOT_PASSWORD=quarry-secret \
  --command -- sh -c 'mkdir -p /data/quarry-e2e && exec minio server /data'
kubectl -n "$ns" expose pod minio --port=9000 --name=minio 2>/dev/null || true
kubectl -n "$ns" wait --for=condition=Ready pod/minio --timeout=180s

kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: notebook
  labels: {component: singleuser-server}
spec:
  serviceAccountName: quarry-spark
  containers:
    - name: notebook
      image: $singleuser
      imagePullPolicy: IfNotPresent
      command: [sleep, infinity]
      env:
        - {name: AWS_ACCESS_KEY_ID, value: quarry}
        - {name: AWS_SECRET_ACCESS_KEY, value: quarry-secret}
        - {name: AWS_ENDPOINT_URL_S3, value: "http://minio.$ns.svc:9000"}
        - {name: JUPYTERHUB_USER, value: alice}
        - {name: QUARRY_SPARK_EXECUTOR_IMAGE, value: $executor}
        - name: QUARRY_POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
YAML
kubectl -n "$ns" wait --for=condition=Ready pod/notebook --timeout=300s
kubectl -n "$ns" cp "$root/tests/real_cluster/flow.py" notebook:/tmp/flow.py
kubectl -n "$ns" exec notebook -- python /tmp/flow.py
left="$(kubectl -n "$ns" get pods,configmaps,services -l app.kubernetes.io/managed-by=quarry -o name)"
if [ -n "$left" ]; then
  echo "left behind after %spark stop: $left" >&2
  exit 1
fi
echo "real-cluster flow passed"
