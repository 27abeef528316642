"""The official Python client (kubernetes==37.0.2) against skiff-apiserver.

Run by apiserver/tests/kubectl.rs with the kubeconfig's path; prints one line per step, and
fails loudly (a non-zero exit) at the first thing that is not as Kubernetes would have it.
"""
import sys

from kubernetes import client, config, watch

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()

names = [ns.metadata.name for ns in core.list_namespace().items]
assert "default" in names, names
print("list namespaces:", sorted(names))

deployment = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "py"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "py"}},
        "template": {"metadata": {"labels": {"app": "py"}},
                     "spec": {"containers": [{"name": "c", "image": "skiff/demo-web:v1"}]}},
    },
}
created = apps.create_namespaced_deployment("default", deployment)
assert created.spec.replicas == 1 and created.spec.strategy.type == "RollingUpdate", created.spec
print("create deployment:", created.metadata.name, created.metadata.resource_version)

apps.patch_namespaced_deployment("py", "default", {"metadata": {"labels": {"patched": "yes"}}})
apps.patch_namespaced_deployment_scale("py", "default", {"spec": {"replicas": 3}})
read = apps.read_namespaced_deployment("py", "default")
assert read.spec.replicas == 3 and read.metadata.labels == {"patched": "yes"}, read.metadata
print("patch and scale:", read.spec.replicas, read.metadata.labels)

core.create_namespaced_config_map("default", {"metadata": {"name": "pycm"}, "data": {"a": "b"}})
seen = []
stream = watch.Watch()
for event in stream.stream(core.list_namespaced_config_map, "default", timeout_seconds=2):
    seen.append((event["type"], event["object"].metadata.name))
    stream.stop()
assert ("ADDED", "pycm") in seen, seen
print("watch:", seen)

try:
    for _ in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version="2", timeout_seconds=2):
        pass
    raise SystemExit("a watch from a compacted resourceVersion should have raised 410")
except client.exceptions.ApiException as err:
    assert err.status == 410, err
    print("expired watch:", err.status, err.reason)
