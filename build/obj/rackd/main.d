build/obj/rackd/main.o: src/rackd/main.c src/common/log.h \
 src/common/net.h src/common/util.h src/lab/lab.h src/rackd/api.h \
 src/common/json.h src/rackd/rack.h src/common/ev.h src/rackd/store.h \
 src/rackd/reconcile.h src/rackd/routers.h
src/common/log.h:
src/common/net.h:
src/common/util.h:
src/lab/lab.h:
src/rackd/api.h:
src/common/json.h:
src/rackd/rack.h:
src/common/ev.h:
src/rackd/store.h:
src/rackd/reconcile.h:
src/rackd/routers.h:
