/*
 * resource_fw.c — nftables rules that keep other apps off a resource's port
 * (see resource_fw.h). One table per rack, rewritten whole each time: nft -f
 * applies a file atomically, so there is never a moment with no rules.
 */
#include "rackd/resource_fw.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "common/util.h"

void
resource_fw_table(const char *rack, char *out, size_t outlen)
{
	snprintf(out, outlen, "cx-res-%s", rack);
}

/* Feeds text to `nft -f -` (in the network namespace of process ns_pid,
 * when not 0); its stderr's first line into err. */
static int
nft_feed(pid_t ns_pid, const char *text, char *err, size_t errlen)
{
	int in[2], out[2], status;
	char msg[512] = "";
	ssize_t got;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) == -1)
		goto sys;
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		goto sys;
	}
	pid = fork();
	if (pid == 0) {
		if (ns_pid != 0) {
			char path[64];
			int fd;

			snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)ns_pid);
			if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || setns(fd, CLONE_NEWNET) == -1) {
				dprintf(out[1], "cannot enter %s: %s\n", path, strerror(errno));
				_exit(127);
			}
		}
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execlp("nft", "nft", "-f", "-", (char *)NULL);
		dprintf(2, "cannot run nft: %s (Debian's nftables package)\n", strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid == -1) {
		close(in[1]);
		close(out[0]);
		goto sys;
	}
	for (size_t off = 0, len = strlen(text); off < len;) {
		ssize_t w = write(in[1], text + off, len - off);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	got = (ssize_t)net_read_within(out[0], msg, sizeof(msg) - 1, 10000);
	close(out[0]);
	msg[got > 0 ? got : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "nft: %s", msg[0] != '\0' ? msg : "failed");
		return -1;
	}
	return 0;
sys:
	snprintf(err, errlen, "cannot run nft: %s", strerror(errno));
	return -1;
}

int
resource_fw_apply(const char *rack, const struct resource_fw_rule *rules, size_t n,
    char *err, size_t errlen)
{
	char table[128], ebuf[512];
	struct buf b;
	int rc;

	if (geteuid() != 0)
		return 0;       /* an unprivileged rack's apps are all its user anyway */
	resource_fw_table(rack, table, sizeof(table));
	buf_init(&b, 0);
	/* Creating it first makes the delete succeed when there was none. */
	buf_addf(&b, "table inet %s\ndelete table inet %s\n", table, table);
	if (n > 0) {
		buf_addf(&b, "table inet %s {\n\tchain out {\n\t\ttype filter hook output priority "
		    "0; policy accept;\n", table);
		for (size_t i = 0; i < n; i++)
			buf_addf(&b, "\t\tip daddr 127.0.0.0/8 tcp dport %d meta skuid != { 0, "
			    "%u-%u } reject with tcp reset\n", rules[i].port, rules[i].uid_first,
			    rules[i].uid_last);
		buf_adds(&b, "\t}\n}\n");
	}
	rc = nft_feed(0, buf_cstr(&b), err != NULL ? err : ebuf, err != NULL ? errlen : sizeof(ebuf));
	if (rc == -1 && err == NULL)
		log_warnx("resources: %s", ebuf);
	buf_free(&b);
	return rc;
}

int
resource_fw_allow(pid_t server, int port, char *const *addrs, size_t n, char *err, size_t errlen)
{
	struct buf b;
	int rc;

	buf_init(&b, 0);
	buf_adds(&b, "table inet cx-res\ndelete table inet cx-res\n");
	buf_addf(&b, "table inet cx-res {\n\tchain in {\n\t\ttype filter hook input priority 0; "
	    "policy accept;\n\t\tiifname \"lo\" accept\n");
	if (n > 0) {
		buf_addf(&b, "\t\ttcp dport %d ip saddr { ", port);
		for (size_t i = 0; i < n; i++)
			buf_addf(&b, "%s%s", i > 0 ? ", " : "", addrs[i]);
		buf_adds(&b, " } accept\n");
	}
	buf_addf(&b, "\t\ttcp dport %d reject with tcp reset\n\t}\n}\n", port);
	rc = nft_feed(server, buf_cstr(&b), err, errlen);
	buf_free(&b);
	return rc;
}
