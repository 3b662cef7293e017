build/obj/cli/pack.o: src/cli/pack.c src/cli/pack.h src/common/util.h
src/cli/pack.h:
src/common/util.h:
