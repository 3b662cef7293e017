build/obj/cli/services.o: src/cli/services.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
