build/obj/cli/client.o: src/cli/client.c src/cli/client.h \
 src/common/util.h
src/cli/client.h:
src/common/util.h:
