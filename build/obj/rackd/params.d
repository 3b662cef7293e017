build/obj/rackd/params.o: src/rackd/params.c src/rackd/params.h \
 src/common/util.h
src/rackd/params.h:
src/common/util.h:
