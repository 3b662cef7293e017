build/obj/cli/deploy.o: src/cli/deploy.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h src/cli/pack.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
src/cli/pack.h:
