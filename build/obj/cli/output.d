build/obj/cli/output.o: src/cli/output.c src/cli/output.h src/cli/jv.h \
 src/common/util.h
src/cli/output.h:
src/cli/jv.h:
src/common/util.h:
