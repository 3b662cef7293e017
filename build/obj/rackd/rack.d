build/obj/rackd/rack.o: src/rackd/rack.c src/rackd/rack.h src/common/ev.h \
 src/rackd/store.h src/common/net.h src/common/util.h src/lab/lab.h \
 src/rackd/params.h
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/common/net.h:
src/common/util.h:
src/lab/lab.h:
src/rackd/params.h:
