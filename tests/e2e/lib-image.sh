# lib-image.sh — the base image of the tests that build Dockerfiles, made here.
#
# The examples say FROM debian:bookworm, and no registry that has it (docker
# hub) is reachable from these machines; Debian's mirrors are. So the tests
# make the image themselves: mmdebstrap writes a minimal bookworm root
# filesystem (variant apt: apt-get works in RUN steps) and `podman import`
# turns it into an image in root's podman storage, where the builder finds it.
# It is made once and kept there between runs, tagged localhost/cx-base:bookworm
# (and labelled cx.base=bookworm) so it is known as ours; it is made again
# when it is gone. Source after lib.sh.

CX_BASE_REF=${CX_BASE_REF:-docker.io/library/debian:bookworm}
CX_BASE_OURS=${CX_BASE_OURS:-localhost/cx-base:bookworm}
CX_BASE_TIMEOUT=${CX_BASE_TIMEOUT:-300}

# cx_base_image: makes CX_BASE_REF present (from our cached image, or built
# now). Prints a TAP comment saying which; bails out (TAP) naming what is
# missing or what failed. Tests running at the same time wait on one lock.
cx_base_image() {
	local tool tar t0 log
	for tool in podman mmdebstrap; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "Bail out! $tool is not installed: the base image $CX_BASE_REF is built with it (make deps)"
			exit 1
		fi
	done
	exec 8>/tmp/cx-base-image.lock
	if ! flock -w "$CX_BASE_TIMEOUT" 8; then
		echo "Bail out! another test has held /tmp/cx-base-image.lock for ${CX_BASE_TIMEOUT} s"
		exit 1
	fi
	if podman image exists "$CX_BASE_REF"; then
		echo "# base image $CX_BASE_REF: present"
		exec 8>&-
		return 0
	fi
	if podman image exists "$CX_BASE_OURS"; then
		podman tag "$CX_BASE_OURS" "$CX_BASE_REF" ||
		    { echo "Bail out! cannot tag $CX_BASE_OURS as $CX_BASE_REF"; exit 1; }
		echo "# base image $CX_BASE_REF: our cached $CX_BASE_OURS"
		exec 8>&-
		return 0
	fi
	t0=$(date +%s)
	tar="$TMP/cx-base.tar"
	log="$TMP/cx-base.log"
	if ! timeout "$CX_BASE_TIMEOUT" mmdebstrap --variant=apt --quiet bookworm "$tar" >"$log" 2>&1; then
		echo "Bail out! mmdebstrap of bookworm failed or took over ${CX_BASE_TIMEOUT} s: $(tail -1 "$log")"
		exit 1
	fi
	# What docker hub's debian:bookworm has as its config: a shell by default.
	if ! timeout "$CX_BASE_TIMEOUT" podman import -q --change 'CMD ["bash"]' \
	    --change 'LABEL cx.base=bookworm' "$tar" "$CX_BASE_OURS" >"$log" 2>&1 ||
	    ! podman tag "$CX_BASE_OURS" "$CX_BASE_REF" >>"$log" 2>&1; then
		echo "Bail out! podman import of the bookworm root filesystem failed: $(tail -1 "$log")"
		exit 1
	fi
	rm -f "$tar"
	echo "# base image $CX_BASE_REF: built with mmdebstrap in $(( $(date +%s) - t0 )) s"
	exec 8>&-
}
