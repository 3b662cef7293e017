build/obj/rackd/store.o: src/rackd/store.c src/rackd/store.h \
 src/common/util.h
src/rackd/store.h:
src/common/util.h:
