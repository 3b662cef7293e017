# cx — build, test, demo. See README.md.
#
# Layout: each src/<dir> is a module group; every .c except main.c goes into a
# static library build/lib<dir>.a, so unit tests link any module alone.
#   bin/cx         src/cli    (+ lab, common)
#   bin/cx-rackd   src/rackd  (+ k8s, lab, common)
#   bin/cx-router  src/router (+ common)
#   bin/cx-labdns  src/labdns (+ common)
#   bin/cx-ingress src/ingress (+ k8s, common: the router's Kubernetes controller)
#   bin/cx-init    src/init   (alone: the init of each app process's PID namespace)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Werror
CPPFLAGS += -std=c17 -D_GNU_SOURCE -Isrc
PKGS    := yaml-0.1 sqlite3 jansson libcurl libarchive libssl libcrypto libnghttp2
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lyaml -lsqlite3 -ljansson -lcurl -larchive -lssl -lcrypto -lnghttp2) -lpthread

ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-asan
BIN     := build-asan/bin
else
BUILD   := build
BIN     := bin
endif

GROUPS   := common lab rackd k8s router cli labdns
lib_srcs  = $(filter-out src/$(1)/main.c,$(wildcard src/$(1)/*.c))
lib_objs  = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(call lib_srcs,$(1)))
LIBS     := $(foreach g,$(GROUPS),$(BUILD)/lib$(g).a)

PROGRAMS := $(BIN)/cx $(BIN)/cx-rackd $(BIN)/cx-router $(BIN)/cx-labdns $(BIN)/cx-init \
            $(BIN)/cx-ingress
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
# Small programs the e2e tests and benches use (upstream servers, clients).
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS     := $(patsubst tests/tools/%.c,$(BIN)/%,$(TOOL_SRCS))

.PHONY: all banned deps test unit e2e fuzz asan demo bench clean install
all: banned $(PROGRAMS) $(TOOLS)

# Calls that cannot be bounded or checked (atoi, strcpy, sprintf...) fail the
# build, with the line and what to use instead (tests/e2e/banned.t tests it).
banned:
	@sh scripts/banned.sh src

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

define lib_rule
$(BUILD)/lib$(1).a: $(call lib_objs,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@; ar rcs $$@ $$^
endef
$(foreach g,$(GROUPS),$(eval $(call lib_rule,$(g))))

# The router image's Dockerfile, built into cx (cli/routerimage.c) as a C string.
$(BUILD)/gen/router_dockerfile.h: images/router/Dockerfile
	@mkdir -p $(dir $@)
	@{ echo '/* Made by make from images/router/Dockerfile. */'; \
	  echo 'static const char router_dockerfile[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/	"/' -e 's/$$/\\n"/' $<; echo ';'; } >$@
$(BUILD)/obj/cli/routerimage.o: $(BUILD)/gen/router_dockerfile.h
$(BUILD)/obj/cli/routerimage.o: CPPFLAGS += -I$(BUILD)/gen

# cx builds the router image with rackd/image.c (podman), which needs only common.
$(BIN)/cx: $(BUILD)/obj/cli/main.o $(BUILD)/libcli.a $(BUILD)/librackd.a $(BUILD)/libk8s.a $(BUILD)/liblab.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# rackd and k8s call each other (the API renders; the renderer reads manifests).
$(BIN)/cx-rackd: $(BUILD)/obj/rackd/main.o $(BUILD)/librackd.a $(BUILD)/libk8s.a $(BUILD)/liblab.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(LDLIBS)
# The router image (images/router/Dockerfile) installs only what these two
# link: --as-needed keeps the libraries they do not use out of their NEEDED.
AS_NEEDED := -Wl,--as-needed
$(BIN)/cx-router: $(BUILD)/obj/router/main.o $(BUILD)/librouter.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(AS_NEEDED) -o $@ $^ $(LDLIBS)
$(BIN)/cx-labdns: $(BUILD)/obj/labdns/main.o $(BUILD)/liblabdns.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/cx-ingress: $(BUILD)/obj/ingress/main.o $(BUILD)/libk8s.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(AS_NEEDED) -o $@ $^ $(LDLIBS)

# cx-init runs inside every app process's root, an image's too (which may
# have no libc, or another): static, and never with the sanitizers' runtime.
$(BIN)/cx-init: src/init/main.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 -g $(WARN) -static -o $@ $<

$(BIN)/%: tests/tools/%.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link every library; the linker pulls only what each test uses.
$(BUILD)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< -Wl,--start-group \
	  $(BUILD)/librackd.a $(BUILD)/libk8s.a $(BUILD)/librouter.a $(BUILD)/libcli.a $(BUILD)/liblab.a \
	  $(BUILD)/liblabdns.a $(BUILD)/libcommon.a -Wl,--end-group $(LDFLAGS) $(LDLIBS) -lcmocka

# test_lab starts the real lab DNS.
$(BUILD)/tests/test_lab: $(BIN)/cx-labdns

# A benchmark program: what the walls between apps cost at process start.
$(BIN)/cx-spawnbench: bench/spawn.c $(BUILD)/librackd.a $(BUILD)/liblab.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh scripts/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "# $$t"; $$t; done

e2e: all
	prove -v --timer tests/e2e/

fuzz:
	@sh tests/fuzz/smoke.sh

# make test: what CI runs. Installs deps if missing, then unit + e2e under
# ASan/UBSan, then a short fuzz smoke run.
test:
	@sh scripts/deps.sh --if-missing
	$(MAKE) SAN=1 all unit
	rm -rf build-asan/tap
	CX_BIN=$(CURDIR)/build-asan/bin PERL_TEST_HARNESS_DUMP_TAP=$(CURDIR)/build-asan/tap \
	  prove --timer tests/e2e/ || { sh scripts/tap-failed.sh build-asan/tap; exit 1; }
	$(MAKE) fuzz

asan:
	$(MAKE) SAN=1 all unit

demo:
	@sh scripts/deps.sh --if-missing
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

bench:
	@sh scripts/deps.sh --if-missing
	@$(MAKE) --no-print-directory all $(BIN)/cx-spawnbench
	@sh bench/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, and what cx
# makes from its command table — cx(1) and the bash and zsh completions —
# where Debian's packages put theirs.
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	$(BIN)/cx man > $(DESTDIR)$(PREFIX)/share/man/man1/cx.1
	$(BIN)/cx completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cx
	$(BIN)/cx completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_cx

clean:
	rm -rf build build-asan bin

-include $(shell find $(BUILD) -name "*.d" 2>/dev/null)
