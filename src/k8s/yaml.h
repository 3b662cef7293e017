/*
 * yaml.h — Kubernetes objects (jv values) written as YAML, the way people
 * read and diff them: block mappings in the objects' own key order, block
 * sequences, scalars plain where YAML reads them back as the same string and
 * double-quoted otherwise (so "true", "0755", "8080" and "a: b" stay strings).
 * What it writes is also what `kubectl apply -f` and the API server's
 * application/apply-patch+yaml take.
 */
#ifndef CX_K8S_YAML_H
#define CX_K8S_YAML_H

#include "common/jv.h"

/* The objects of the array docs as one YAML stream: each a document that
 * starts with "---". Owned by the caller (free). */
char *k8s_yaml_stream(const jv *docs);

/* Whether s is written without quotes (for the tests). */
bool k8s_yaml_plain_ok(const char *s);

#endif
