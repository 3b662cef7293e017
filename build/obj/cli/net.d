build/obj/cli/net.o: src/cli/net.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h src/lab/lab.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
src/lab/lab.h:
