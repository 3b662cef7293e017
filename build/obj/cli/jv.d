build/obj/cli/jv.o: src/cli/jv.c src/cli/jv.h src/common/util.h
src/cli/jv.h:
src/common/util.h:
