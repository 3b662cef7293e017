build/obj/cli/reach.o: src/cli/reach.c src/cli/reach.h src/cli/cli.h \
 src/cli/jv.h src/common/util.h src/cli/output.h src/lab/lab.h
src/cli/reach.h:
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
src/lab/lab.h:
