#!/usr/bin/python3
# kube-apply.py URL TOKEN MODE < YAML — sends each object of a YAML stream
# (what `cx rack render` prints) to a Kubernetes API server by server-side
# apply (field manager cx). MODE: dry (dryRun=All) or apply. One line per
# object on stdout:
#   KIND NAME VERDICT [resourceVersion]
# VERDICT is "ok" or "rejected: REASON". Exit 1 when any was rejected.
import json, ssl, sys, urllib.error, urllib.request
import yaml

PLURAL = {"Namespace": "namespaces", "Secret": "secrets", "Service": "services",
          "Deployment": "deployments", "DaemonSet": "daemonsets",
          "StatefulSet": "statefulsets", "Ingress": "ingresses", "CronJob": "cronjobs",
          "IngressClass": "ingressclasses", "ServiceAccount": "serviceaccounts",
          "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings",
          "HorizontalPodAutoscaler": "horizontalpodautoscalers",
          "ConfigMap": "configmaps"}

def path(o):
    api, kind, md = o["apiVersion"], o["kind"], o["metadata"]
    base = "/api/v1" if api == "v1" else "/apis/" + api
    ns = "/namespaces/" + md["namespace"] if "namespace" in md else ""
    return "%s%s/%s/%s" % (base, ns, PLURAL[kind], md["name"])

def main():
    url, token, mode = sys.argv[1:4]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the server's own self-signed certificate
    bad = 0
    # Each document goes as cx wrote it: the server's own YAML reader judges
    # the quoting; PyYAML (YAML 1.1, as kubectl's) only finds its path.
    for doc in sys.stdin.read().split("---\n"):
        o = yaml.safe_load(doc) if doc.strip() else None
        if o is None:
            continue
        q = "?fieldManager=cx&force=true" + ("&dryRun=All" if mode == "dry" else "")
        req = urllib.request.Request(url + path(o) + q, method="PATCH",
                                     data=doc.encode(),
                                     headers={"Content-Type": "application/apply-patch+yaml",
                                              "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
                got = json.load(r)
            print(o["kind"], o["metadata"]["name"], "ok", got["metadata"].get("resourceVersion", ""))
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            try:
                msg = json.loads(body).get("message", body)
            except ValueError:
                msg = body
            print(o["kind"], o["metadata"]["name"], "rejected:", msg.replace("\n", " ")[:300])
            bad += 1
    sys.exit(1 if bad else 0)

main()
