build/obj/cli/logs.o: src/cli/logs.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
