/*
 * httpc.c — see httpc.h.
 */
#include "common/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static pthread_once_t httpc_once = PTHREAD_ONCE_INIT;
static int httpc_ready = -1;

static void
httpc_global(void)
{
	httpc_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int
httpc_init(void)
{
	pthread_once(&httpc_once, httpc_global);
	return httpc_ready;
}

/* Where the body goes: whole into body, or line by line to q->on_line. */
struct httpc_sink {
	const struct httpc_req *q;
	struct buf *body;
	size_t scanned;		/* body bytes known to hold no '\n' (an unfinished line) */
	bool stopped;		/* on_line said to end */
};

static size_t
httpc_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct httpc_sink *k = arg;
	size_t start = 0;
	char *nl;

	if (buf_add(k->body, p, sz * n) == -1)
		return 0;	/* over max (a line, in a stream): curl stops */
	if (k->q->on_line == NULL)
		return sz * n;
	/* Only the new bytes are searched: a long event comes in many pieces. */
	while ((nl = memchr(k->body->data + k->scanned, '\n', k->body->len - k->scanned)) != NULL) {
		size_t len = (size_t)(nl - (k->body->data + start));

		if (!k->q->on_line(k->body->data + start, len, k->q->line_arg)) {
			k->stopped = true;
			return 0;
		}
		start += len + 1;
		k->scanned = start;
	}
	buf_consume(k->body, start);
	k->scanned = k->body->len;
	return sz * n;
}

/* Keeps the value of header line p when q asked for its name. */
static size_t
httpc_on_header(char *p, size_t sz, size_t n, void *arg)
{
	const struct httpc_req *q = arg;
	size_t len = sz * n;

	for (size_t i = 0; i < q->nkeep; i++) {
		const struct httpc_header *h = &q->keep[i];
		size_t k = strlen(h->name), vn;
		const char *v;

		if (len <= k + 1 || strncasecmp(p, h->name, k) != 0 || p[k] != ':')
			continue;
		v = p + k + 1;
		vn = len - k - 1;
		while (vn > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vn--;
		}
		while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
			vn--;
		if (vn < h->outlen) {
			memcpy(h->out, v, vn);
			h->out[vn] = '\0';
		}
	}
	return len;
}

static int
httpc_on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct httpc_req *q = arg;

	(void)dt; (void)dn; (void)ut; (void)un;
	return q->cancelled(q->cancel_arg) ? 1 : 0;
}

/* The TLS material as blobs libcurl copies. -1 with err when this libcurl
 * cannot take one (a build without blob support). */
static int
httpc_set_tls(CURL *h, const struct httpc_tls *t, char *err, size_t errlen)
{
	if (t == NULL)
		return 0;
	if (t->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t->ca_pem != NULL) {
		struct curl_blob ca = { .data = (void *)t->ca_pem, .len = t->ca_len,
			.flags = CURL_BLOB_COPY };

		if (curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca) != CURLE_OK) {
			snprintf(err, errlen, "this libcurl cannot take a CA certificate from memory");
			return -1;
		}
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (t->cert_pem != NULL && t->key_pem != NULL) {
		struct curl_blob cert = { .data = (void *)t->cert_pem, .len = t->cert_len,
			.flags = CURL_BLOB_COPY };
		struct curl_blob key = { .data = (void *)t->key_pem, .len = t->key_len,
			.flags = CURL_BLOB_COPY };

		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		if (curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert) != CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key) != CURLE_OK) {
			snprintf(err, errlen, "this libcurl cannot take a client certificate from "
			    "memory");
			return -1;
		}
	}
	return 0;
}

int
httpc_do(const struct httpc_req *q, long *code, struct buf *body, char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct httpc_sink sink = { .q = q, .body = body };
	CURLcode cr;
	CURL *h;

	buf_init(body, q->max_resp > 0 ? q->max_resp : 8u << 20);
	*code = 0;
	if (httpc_init() == -1 || (h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialize libcurl");
		return -1;
	}
	for (size_t i = 0; i < q->nheaders; i++) {
		struct curl_slist *n = curl_slist_append(hdrs, q->headers[i]);

		if (n == NULL) {
			curl_slist_free_all(hdrs);
			curl_easy_cleanup(h);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_URL, q->url);
	if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0 &&
	    strcmp(q->method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!q->env_proxy)
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, q->connect_timeout_ms > 0 ?
	    q->connect_timeout_ms : 5000L);
	if (q->user_agent != NULL)
		curl_easy_setopt(h, CURLOPT_USERAGENT, q->user_agent);
	if (q->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, q->ca_file);
	if (strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (q->nkeep > 0) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, httpc_on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)q);
	}
	if (q->cancelled != NULL) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, httpc_on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)q);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 20000L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, httpc_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (q->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	}
	if (httpc_set_tls(h, q->tls, err, errlen) == -1) {
		curl_slist_free_all(hdrs);
		curl_easy_cleanup(h);
		return -1;
	}
	cr = curl_easy_perform(h);
	if (cr == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	else
		snprintf(err, errlen, "%s: %s", q->url, sink.stopped ? "stopped" :
		    cr == CURLE_WRITE_ERROR ? (q->on_line != NULL ? "a line of the answer is too "
		    "large" : "the answer is too large") : cr == CURLE_ABORTED_BY_CALLBACK ? "cancelled" :
		    errbuf[0] ? errbuf : curl_easy_strerror(cr));
	/* The headers may carry a bearer token: gone from memory with them. */
	for (struct curl_slist *l = hdrs; l != NULL; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return cr == CURLE_OK ? 0 : -1;
}
