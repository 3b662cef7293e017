build/obj/cli/env.o: src/cli/env.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
