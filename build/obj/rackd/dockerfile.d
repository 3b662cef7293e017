build/obj/rackd/dockerfile.o: src/rackd/dockerfile.c \
 src/rackd/dockerfile.h src/common/util.h
src/rackd/dockerfile.h:
src/common/util.h:
