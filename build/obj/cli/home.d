build/obj/cli/home.o: src/cli/home.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
