build/obj/rackd/unpack.o: src/rackd/unpack.c src/rackd/unpack.h \
 src/common/util.h
src/rackd/unpack.h:
src/common/util.h:
