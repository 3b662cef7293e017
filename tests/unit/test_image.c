/*
 * test_image.c — the image module's parsing: the output of a real
 * `podman image inspect` (captured from a multi-stage build on the debian
 * bookworm base: USER, ENV, WORKDIR, EXPOSE, ENTRYPOINT and CMD set) read
 * into a config and its layer directories, and the config's JSON round trip
 * through the store's text. The builder itself runs in tests/e2e/build.t.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rackd/image.h"

static const char inspect_out[] =
	"[\n"
	"     {\n"
	"          \"Id\": \"aff04ac38bd88973b77fe4ab3cf0b84d98ea5909d8a74b87c0dce6960b0a67a5\",\n"
	"          \"Digest\": \"sha256:fee4e840e7b190821b535c1004a4d1f9721297c18adc52d6fe02c733ede53724\",\n"
	"          \"RepoTags\": [\n"
	"               \"localhost/ia-test:1\"\n"
	"          ],\n"
	"          \"RepoDigests\": [\n"
	"               \"localhost/ia-test@sha256:fee4e840e7b190821b535c1004a4d1f9721297c18adc52d6fe02c733ede53724\"\n"
	"          ],\n"
	"          \"Parent\": \"9cbcec0149478162023bfb1fc7f8a84338150735e8099c4a2ba32eadeac63a60\",\n"
	"          \"Comment\": \"imported from tarball\",\n"
	"          \"Created\": \"2026-12-02T18:10:52.576873127Z\",\n"
	"          \"Config\": {\n"
	"               \"User\": \"1000:1000\",\n"
	"               \"ExposedPorts\": {\n"
	"                    \"8080/tcp\": {}\n"
	"               },\n"
	"               \"Env\": [\n"
	"                    \"PATH=/usr/local/bin:/usr/bin:/bin\",\n"
	"                    \"FOO=bar\"\n"
	"               ],\n"
	"               \"Entrypoint\": [\n"
	"                    \"/bin/sh\",\n"
	"                    \"-c\"\n"
	"               ],\n"
	"               \"Cmd\": [\n"
	"                    \"cat /greeting\"\n"
	"               ],\n"
	"               \"WorkingDir\": \"/app\",\n"
	"               \"Labels\": {\n"
	"                    \"io.buildah.version\": \"1.28.2\"\n"
	"               }\n"
	"          },\n"
	"          \"Version\": \"\",\n"
	"          \"Author\": \"\",\n"
	"          \"Architecture\": \"amd64\",\n"
	"          \"Os\": \"linux\",\n"
	"          \"Size\": 164590341,\n"
	"          \"VirtualSize\": 164590341,\n"
	"          \"GraphDriver\": {\n"
	"               \"Name\": \"overlay\",\n"
	"               \"Data\": {\n"
	"                    \"LowerDir\": \"/var/lib/containers/storage/overlay/0c69ca9456da02593d808401a84e3eed92958b3d893b5a7e500cda29b10381da/diff\",\n"
	"                    \"UpperDir\": \"/var/lib/containers/storage/overlay/d146503df64449c2d03a00920515c712b1ce764392ad343c8ff8164eec1396f1/diff\",\n"
	"                    \"WorkDir\": \"/var/lib/containers/storage/overlay/d146503df64449c2d03a00920515c712b1ce764392ad343c8ff8164eec1396f1/work\"\n"
	"               }\n"
	"          },\n"
	"          \"RootFS\": {\n"
	"               \"Type\": \"layers\",\n"
	"               \"Layers\": [\n"
	"                    \"sha256:0c69ca9456da02593d808401a84e3eed92958b3d893b5a7e500cda29b10381da\",\n"
	"                    \"sha256:779224826ee3b7b97bdd16de17a3f797a2fc0cc88e15324e2a7dfb7b034e7796\"\n"
	"               ]\n"
	"          },\n"
	"          \"Labels\": {\n"
	"               \"io.buildah.version\": \"1.28.2\"\n"
	"          },\n"
	"          \"Annotations\": {\n"
	"               \"org.opencontainers.image.base.digest\": \"sha256:b0a36bc7931d018005c9f5ca0e9e5462d4c05a78591b0348d87abe77003cc234\",\n"
	"               \"org.opencontainers.image.base.name\": \"docker.io/library/debian:bookworm\"\n"
	"          },\n"
	"          \"ManifestType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
	"          \"User\": \"1000:1000\",\n"
	"          \"History\": [\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:05:18.381307912Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) ADD file:0c69ca9456da02593d808401a84e3eed92958b3d893b5a7e500cda29b10381da in /\",\n"
	"                    \"comment\": \"imported from tarball\"\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.27862474Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) COPY file:150912ba07751897b96eeba5f7565b90b98bbe40cff5ec74cbbc594cfdaa23be in /greeting \",\n"
	"                    \"comment\": \"FROM docker.io/library/debian:bookworm\"\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.331073399Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) ENV FOO=bar PATH=/usr/local/bin:/usr/bin:/bin\",\n"
	"                    \"comment\": \"FROM 9dd142e58929\",\n"
	"                    \"empty_layer\": true\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.375222051Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) WORKDIR /app\",\n"
	"                    \"comment\": \"FROM 1889c88ca9f5\",\n"
	"                    \"empty_layer\": true\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.427368688Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) USER 1000:1000\",\n"
	"                    \"comment\": \"FROM 12ecbae7332d\",\n"
	"                    \"empty_layer\": true\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.474832846Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) EXPOSE 8080\",\n"
	"                    \"comment\": \"FROM 3840549d5352\",\n"
	"                    \"empty_layer\": true\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.524088365Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) ENTRYPOINT [\\\"/bin/sh\\\", \\\"-c\\\"]\",\n"
	"                    \"comment\": \"FROM edf6a92abafb\",\n"
	"                    \"empty_layer\": true\n"
	"               },\n"
	"               {\n"
	"                    \"created\": \"2026-12-02T18:10:52.577058061Z\",\n"
	"                    \"created_by\": \"/bin/sh -c #(nop) CMD [\\\"cat /greeting\\\"]\",\n"
	"                    \"comment\": \"FROM 9cbcec014947\",\n"
	"                    \"empty_layer\": true\n"
	"               }\n"
	"          ],\n"
	"          \"NamesHistory\": [\n"
	"               \"localhost/ia-test:1\"\n"
	"          ]\n"
	"     }\n"
	"]\n";

static void
test_inspect_config(void **state)
{
	struct image_config c;
	char err[256];

	(void)state;
	assert_int_equal(image_parse_inspect(inspect_out, strlen(inspect_out), &c, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(c.id,
	    "sha256:aff04ac38bd88973b77fe4ab3cf0b84d98ea5909d8a74b87c0dce6960b0a67a5");
	assert_string_equal(c.user, "1000:1000");
	assert_string_equal(c.workdir, "/app");
	assert_int_equal(c.expose, 8080);
	assert_non_null(c.env);
	assert_string_equal(c.env[0], "PATH=/usr/local/bin:/usr/bin:/bin");
	assert_string_equal(c.env[1], "FOO=bar");
	assert_null(c.env[2]);
	assert_string_equal(c.entrypoint[0], "/bin/sh");
	assert_string_equal(c.entrypoint[1], "-c");
	assert_null(c.entrypoint[2]);
	assert_string_equal(c.cmd[0], "cat /greeting");
	assert_null(c.cmd[1]);
	image_config_free(&c);
	assert_null(c.env);
}

static void
test_inspect_layers(void **state)
{
	char err[256], **dirs = NULL;

	(void)state;
	assert_int_equal(image_parse_inspect(inspect_out, strlen(inspect_out), NULL, &dirs, err,
	    sizeof(err)), 0);
	/* top first: UpperDir, then LowerDir's entries */
	assert_string_equal(dirs[0], "/var/lib/containers/storage/overlay/"
	    "d146503df64449c2d03a00920515c712b1ce764392ad343c8ff8164eec1396f1/diff");
	assert_string_equal(dirs[1], "/var/lib/containers/storage/overlay/"
	    "0c69ca9456da02593d808401a84e3eed92958b3d893b5a7e500cda29b10381da/diff");
	assert_null(dirs[2]);
	for (size_t i = 0; dirs[i] != NULL; i++)
		free(dirs[i]);
	free(dirs);
}

static void
test_inspect_many_lower(void **state)
{
	const char *text = "[{\"Id\":\"abc\",\"Config\":{},\"GraphDriver\":{\"Data\":"
	    "{\"UpperDir\":\"/u\",\"LowerDir\":\"/l1:/l2:/l3\"}}}]";
	struct image_config c;
	char err[256], **dirs = NULL;

	(void)state;
	assert_int_equal(image_parse_inspect(text, strlen(text), &c, &dirs, err, sizeof(err)), 0);
	assert_string_equal(c.id, "sha256:abc");
	assert_null(c.env);
	assert_null(c.cmd);
	assert_null(c.user);
	assert_int_equal(c.expose, 0);
	assert_string_equal(dirs[0], "/u");
	assert_string_equal(dirs[1], "/l1");
	assert_string_equal(dirs[2], "/l2");
	assert_string_equal(dirs[3], "/l3");
	assert_null(dirs[4]);
	for (size_t i = 0; dirs[i] != NULL; i++)
		free(dirs[i]);
	free(dirs);
	image_config_free(&c);
}

static void
test_inspect_refused(void **state)
{
	const char *nolayers = "[{\"Id\":\"abc\",\"GraphDriver\":{\"Name\":\"vfs\"}}]";
	char err[256], **dirs = NULL;
	struct image_config c;

	(void)state;
	assert_int_equal(image_parse_inspect("[]", 2, &c, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "podman image inspect said no image (no Id)");
	assert_int_equal(image_parse_inspect("not json", 8, &c, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not JSON"));
	assert_int_equal(image_parse_inspect(nolayers, strlen(nolayers), NULL, &dirs, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no layer directory"));
	assert_null(dirs);
}

static void
test_json_round_trip(void **state)
{
	struct image_config c, back;
	char err[256], *text, *again;

	(void)state;
	assert_int_equal(image_parse_inspect(inspect_out, strlen(inspect_out), &c, NULL, err,
	    sizeof(err)), 0);
	text = image_config_to_json(&c);
	assert_int_equal(image_config_from_json(text, &back, err, sizeof(err)), 0);
	assert_string_equal(back.id, c.id);
	assert_string_equal(back.user, "1000:1000");
	assert_string_equal(back.workdir, "/app");
	assert_int_equal(back.expose, 8080);
	assert_string_equal(back.env[1], "FOO=bar");
	assert_string_equal(back.entrypoint[1], "-c");
	assert_string_equal(back.cmd[0], "cat /greeting");
	again = image_config_to_json(&back);
	assert_string_equal(again, text);
	free(text);
	free(again);
	image_config_free(&c);
	image_config_free(&back);

	/* an image with nothing set stays with nothing set (not empty arrays) */
	memset(&c, 0, sizeof(c));
	text = image_config_to_json(&c);
	assert_string_equal(text, "{\"Id\":\"\"}");
	assert_int_equal(image_config_from_json(text, &back, err, sizeof(err)), 0);
	assert_null(back.env);
	assert_null(back.entrypoint);
	assert_null(back.cmd);
	assert_null(back.workdir);
	free(text);
	image_config_free(&back);
	assert_int_equal(image_config_from_json("[1]", &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a JSON object"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inspect_config),
		cmocka_unit_test(test_inspect_layers),
		cmocka_unit_test(test_inspect_many_lower),
		cmocka_unit_test(test_inspect_refused),
		cmocka_unit_test(test_json_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
