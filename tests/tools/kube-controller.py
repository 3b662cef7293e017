#!/usr/bin/python3
# kube-controller.py URL TOKEN PAUSEFILE — plays, for a test's kube-apiserver
# (which runs no controller manager or kubelet), the part of Kubernetes that
# reports a rollout: every 0.1 s it lists the Deployments and DaemonSets of
# all namespaces and, for each whose status has not seen its generation,
# writes the status a finished rollout has (every replica updated, ready
# and available), through the status subresource, as the Deployment
# controller does. While PAUSEFILE exists it writes nothing (a rollout in
# progress). A Deployment whose first container's image ends in ":stall"
# gets instead the condition Progressing=False, reason
# ProgressDeadlineExceeded, as the controller sets it once
# progressDeadlineSeconds pass. One line per status written on stdout.
import json, os, ssl, sys, time, urllib.error, urllib.request

def main():
    url, token, pause = sys.argv[1:4]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the test server's self-signed certificate

    def call(method, path, body=None):
        req = urllib.request.Request(url + path, method=method, data=body)
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Accept", "application/json")
        if body is not None:
            req.add_header("Content-Type", "application/merge-patch+json")
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return json.loads(r.read())

    def now():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    while True:
        time.sleep(0.1)
        if os.path.exists(pause):
            continue
        for plural in ("deployments", "daemonsets"):
            try:
                items = call("GET", "/apis/apps/v1/" + plural)["items"]
            except (urllib.error.URLError, OSError, ValueError):
                continue            # the server is gone or restarting
            for o in items:
                md, spec, st = o["metadata"], o["spec"], o.get("status", {})
                gen = md.get("generation", 1)
                if st.get("observedGeneration", 0) >= gen:
                    continue
                image = spec["template"]["spec"]["containers"][0].get("image", "")
                n = spec.get("replicas", 1)
                if plural == "daemonsets":
                    status = {"observedGeneration": gen, "desiredNumberScheduled": 1,
                              "currentNumberScheduled": 1, "updatedNumberScheduled": 1,
                              "numberReady": 1, "numberAvailable": 1, "numberMisscheduled": 0}
                elif image.endswith(":stall"):
                    status = {"observedGeneration": gen, "replicas": n + 1,
                              "updatedReplicas": 1, "availableReplicas": n,
                              "unavailableReplicas": 1, "conditions": [
                                  {"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded",
                                   "message": 'ReplicaSet "%s-stall" has timed out progressing.'
                                   % md["name"], "lastUpdateTime": now(),
                                   "lastTransitionTime": now()}]}
                else:
                    status = {"observedGeneration": gen, "replicas": n, "updatedReplicas": n,
                              "readyReplicas": n, "availableReplicas": n, "conditions": [
                                  {"type": "Available", "status": "True",
                                   "reason": "MinimumReplicasAvailable", "lastUpdateTime": now(),
                                   "lastTransitionTime": now()},
                                  {"type": "Progressing", "status": "True",
                                   "reason": "NewReplicaSetAvailable", "lastUpdateTime": now(),
                                   "lastTransitionTime": now()}]}
                path = "/apis/apps/v1/namespaces/%s/%s/%s/status" % (md["namespace"], plural,
                                                                     md["name"])
                try:
                    call("PATCH", path, json.dumps({"status": status}).encode())
                    print("%s %s/%s generation %d: %s" % (plural, md["namespace"], md["name"], gen,
                          "stalled" if "conditions" in status and
                          status["conditions"][0]["reason"] == "ProgressDeadlineExceeded"
                          else "rolled out"), flush=True)
                except (urllib.error.URLError, OSError, ValueError):
                    pass

main()
