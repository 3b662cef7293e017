build/obj/cli/run.o: src/cli/run.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h src/lab/lab.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
src/lab/lab.h:
