build/obj/cli/commands.o: src/cli/commands.c src/cli/cli.h src/cli/jv.h \
 src/common/util.h src/cli/output.h src/cli/reach.h src/rackd/version.h
src/cli/cli.h:
src/cli/jv.h:
src/common/util.h:
src/cli/output.h:
src/cli/reach.h:
src/rackd/version.h:
