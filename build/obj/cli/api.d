build/obj/cli/api.o: src/cli/api.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/client.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/client.h:
src/cli/output.h:
