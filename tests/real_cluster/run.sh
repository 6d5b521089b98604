#!/usr/bin/env bash
# The %spark end-to-end flow on a real Kubernetes cluster, for people who
# have one (kind or k3d with a working Docker); CI cannot run it.
#
#   tests/real_cluster/run.sh            # uses the current kubectl context
#   KIND_CLUSTER=quarry tests/real_cluster/run.sh   # creates/uses a kind cluster
#
# It builds both images from images/, loads them into the cluster, applies
# the cluster-level manifests (images/k8s/), makes two users' namespaces
# exactly as the hub does (images/hub/quarry_tenancy.py: PSA restricted,
# RBAC, quota, network policies), starts MinIO and alice's notebook pod
# running as her quarry-spark service account, and runs
# tests/real_cluster/flow.py in that pod: %spark start with 2 executor pods,
# a Spark query over s3a:// (hadoop-aws is in the images), -i/-o round
# trips, %spark status, and stop leaving no session-labelled object behind.
# Then the negative checks: bob's service account may not list or delete
# alice's pods, and a pod in bob's namespace cannot reach alice's driver
# port while a pod in alice's own namespace can (needs a CNI that enforces
# NetworkPolicy, e.g. kind with Calico, or k3d's default).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ns=quarry-alice
other=quarry-bob
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

kubectl apply -f "$root/images/k8s/spark-rbac.yaml" -f "$root/images/k8s/hub-rbac.yaml"
# Each user's namespace, as the hub makes it at spawn.
for user in alice bob; do
  PYTHONPATH="$root/images/hub" python3 -c "
import json, sys, quarry_tenancy as t
for o in t.user_namespace_objects('quarry-$user', '$user'): print(json.dumps(o))
" | kubectl apply -f -
done

# MinIO with a fixed root user stands in for the platform's S3, in the
# namespace the network policies allow S3 traffic to.
kubectl create namespace minio --dry-run=client -o yaml | kubectl apply -f -
kubectl -n minio delete pod minio --ignore-not-found --wait
kubectl -n "$ns" delete pod notebook --ignore-not-found --wait
kubectl -n minio run minio --image=minio/minio:latest --port=9000 \
  --env=MINIO_ROOT_USER=quarry --env=MINIO_ROOT_PASSWORD=quarry-secret \
  --command -- sh -c 'mkdir -p /data/quarry-e2e && exec minio server /data'
kubectl -n minio expose pod minio --port=9000 --name=minio 2>/dev/null || true
kubectl -n minio wait --for=condition=Ready pod/minio --timeout=180s

kubectl -n "$ns" apply -f - <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: notebook
  labels: {component: singleuser-server}
spec:
  serviceAccountName: quarry-spark
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: notebook
      image: $singleuser
      imagePullPolicy: IfNotPresent
      command: [sleep, infinity]
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      env:
        - {name: AWS_ACCESS_KEY_ID, value: quarry}
        - {name: AWS_SECRET_ACCESS_KEY, value: quarry-secret}
        - {name: AWS_ENDPOINT_URL_S3, value: "http://minio.minio.svc:9000"}
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

# Negative checks: another tenant's token and network reach nothing of alice's.
bob="system:serviceaccount:$other:quarry-spark"
for verb in list delete; do
  if kubectl auth can-i "$verb" pods -n "$ns" --as="$bob" | grep -qx yes; then
    echo "bob's service account may $verb pods in $ns" >&2
    exit 1
  fi
done
# Something listens on alice's driver port; her own pods reach it, bob's not.
kubectl -n "$ns" exec notebook -- sh -c 'nohup python -m http.server 7078 >/dev/null 2>&1 &'
ip="$(kubectl -n "$ns" get pod notebook -o jsonpath='{.status.podIP}')"
probe() { # namespace, extra labels
  kubectl -n "$1" run "probe-$RANDOM" --rm -i --restart=Never --image=busybox:1.36 \
    --labels="$2" --overrides='{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":65534,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"probe","image":"busybox:1.36","command":["nc","-z","-w","5","'"$ip"'","7078"],"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}'
}
probe "$ns" "app.kubernetes.io/managed-by=quarry" || { echo "alice's own executor-labelled pod cannot reach her driver port" >&2; exit 1; }
if probe "$other" "app.kubernetes.io/managed-by=quarry"; then
  echo "a pod in $other reached alice's driver port" >&2
  exit 1
fi
echo "real-cluster flow passed"
