build/obj/rackd/health.o: src/rackd/health.c src/rackd/health.h \
 src/common/net.h src/common/util.h src/rackd/rack.h src/common/ev.h \
 src/rackd/store.h src/rackd/reconcile.h
src/rackd/health.h:
src/common/net.h:
src/common/util.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/reconcile.h:
