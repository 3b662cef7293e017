build/obj/cli/scale.o: src/cli/scale.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
